/* The reference platform as a child process (`hubsim platform`), for tests that need to kill
 * and restart it. The binary comes from $HUBSIM_BIN (set by ctest).
 *
 * Ownership: the caller owns struct platproc; platproc_stop() or platproc_kill() reaps the
 * child. */
#ifndef TESTS_SUPPORT_PLATPROC_H
#define TESTS_SUPPORT_PLATPROC_H

#include <stdint.h>
#include <sys/types.h>

struct platproc {
  pid_t pid;
  uint16_t port;
  char db[256];
  char ready[300];
  char log[300];
};

/* Starts `hubsim platform --listen hubrpc://127.0.0.1:PORT --db DB --ready-file ...` plus
 * extra (NULL-terminated, may be NULL) and waits up to 10 s for it to listen. port 0 picks a
 * free one (read it from p->port). Its stderr goes to DB.log. 0 or a negative error. */
int platproc_start(struct platproc *p, const char *db, uint16_t port, const char *const *extra);
/* The same with another scheme: "hubrpcs" listens with TLS (extra then gives --cert, --key);
 * NULL gives no --listen (extra then gives --mqtt URL, and p->port is the broker's). */
int platproc_start_scheme(struct platproc *p, const char *scheme, const char *db, uint16_t port,
                          const char *const *extra);
/* SIGTERM and wait (up to 20 s, then SIGKILL): the platform commits what it has. Returns its
 * exit status (0..255) or < 0. */
int platproc_stop(struct platproc *p);
/* SIGKILL and wait: a crash, nothing committed after the last group. */
void platproc_kill(struct platproc *p);
/* For a forked child before it execs: the kernel kills it (SIGKILL) when the test process
 * ends, even by a failed assertion that skips the teardown. Exits 127 if the test is gone. */
void platproc_child_dies_with_parent(void);

/* Runs `SELECT ...` returning one integer on the database file (the platform may be running:
 * WAL lets a reader in). Returns the value, or -1 on error. */
long long platproc_query(const char *db, const char *sql);

#endif
