/* Helpers shared by the files of test_hostile_platform (hostile.c), and its cases, which main()
 * in test_hostile_platform.c runs. Test code: a failed step fails the case (cmocka). */
#ifndef TESTS_HOSTILE_PLATFORM_HOSTILE_H
#define TESTS_HOSTILE_PLATFORM_HOSTILE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "support/hubclient.h"
#include "support/platproc.h"

#define KEY "hubsim-demo-fleet-key"
#define T_MS 5000

/* The folder of this run's files (databases, logs, secrets), made by the group setup. */
extern char hostile_dir[128];

/* A client of the admin line protocol. */
struct adm {
  int fd;
  char in[1 << 16];
  size_t len;
};

/* Every child started (platforms, fleets) is registered, and killed by kill_children, the
 * teardown of every case: a failed case leaves no process behind holding ctest's pipe. */
void child_started(pid_t pid);
int kill_children(void **state);
/* Monotonic seconds. */
double now_s(void);

/* A fresh database path for one case. */
void db_path(char *out, size_t cap, const char *name);

/* Starts the platform with extra flags (NULL-terminated list); asserts it listens. */
void plat_up(struct platproc *p, const char *name, const char *const *extra);

/* How many times needle occurs in the file at path. */
int count_in_file(const char *path, const char *needle);

/* The admin port, from the platform's start line on its stderr. */
uint16_t admin_port(const struct platproc *p);

/* A blocking tcp connection to 127.0.0.1:port: the descriptor, or -errno. */
int tcp_connect(uint16_t port);

/* Waits up to ms for fd to be closed by the peer (EOF or reset), reading and dropping what
 * comes. 1: closed, 0: still open. */
int wait_eof(int fd, int ms);

/* An admin connection: open (0 or -errno), close, send text (0 or SIM_EIO). */
int adm_open(struct adm *a, uint16_t port);
void adm_close(struct adm *a);
int adm_send(struct adm *a, const char *text);

/* One reply line into out (no newline). 0, SIM_ETIMEOUT, SIM_ECLOSED. */
int adm_line(struct adm *a, char *out, size_t cap, int ms);

/* Sends one request line on a new connection and returns the reply (static storage). */
const char *adm_ask(uint16_t port, const char *line);

/* One counter of `stats` (-1 when missing); "store" gives 0 ok, 1 failing, 2 lost. */
long long stat_of(uint16_t port, const char *name);

/* Waits until stat_of(name) >= want. 1 when it got there. */
int wait_stat(uint16_t port, const char *name, long long want, int ms);

/* Runs argv with stderr to errlog; waits up to ms. The exit status, or -1 (still running:
 * killed). */
int run_cmd(const char *const *argv, const char *errlog, int ms);

/* Sets the soft limit resource of the child pid (prlimit(2)); the hard one stays. */
void set_limit(pid_t pid, int resource, rlim_t soft);

/* A hub on a new connection, authenticated with KEY. */
void hub_up(struct hubclient *c, uint16_t port, const char *id, uint64_t boot);

/* Reports seq next_seq.. (n of them) and waits for their Ack. */
void hub_reports_acked(struct hubclient *c, int n);

/* Writes text to a new file in the case folder with the given mode; returns its path. */
const char *secret_file(const char *name, const char *text, mode_t mode);

/* `hubsim platform` with args; returns its exit status within 10 s and its output in log. */
int platform_exit(const char *const *args, const char *log);

/* As plat_up, but the platform's stderr goes through a pipe to `cat`, which writes the log:
 * RLIMIT_FSIZE on the platform would otherwise also refuse its log lines (the log is a
 * regular file), and the tests count them. SIGXFSZ is ignored in the child as well. */
void plat_up_piped(struct platproc *p, const char *name, const char *const *extra);

/* Opens a read transaction on the database and keeps it: SQLite cannot reuse the WAL from its
 * start while a reader may need its frames, so every commit must grow the file (the part of a
 * full disk that fails). */
sqlite3 *hold_snapshot(const char *db);
void release_snapshot(sqlite3 *h);

/* The cases, by topic: connections and an impostor (test_hostile_platform.c), the admin port
 * and secrets (hostile_admin.c), the store (hostile_store.c), real fleets (hostile_fleet.c). */
void test_idle_sockets_leave_room_for_hubs(void **state);
void test_handshake_cap_closes_oldest(void **state);
void test_hub_that_never_reads_is_cut_off(void **state);
void test_one_byte_drip_times_out(void **state);
void test_impostor_keeps_hub_sequence(void **state);
void test_admin_beyond_loopback_needs_token(void **state);
void test_admin_token(void **state);
void test_admin_idle_and_crowd(void **state);
void test_rule_and_timer_limits(void **state);
void test_rule_loops(void **state);
void test_fleet_key_file_and_env(void **state);
void test_db_deleted_while_running(void **state);
void test_store_full_backpressure(void **state);
void test_db_of_another_kind(void **state);
void test_slow_fleet_beside_hostile_clients(void **state);
void test_slow_fleet_through_full_store(void **state);
void test_slow_scenario_through_admin_token(void **state);

#endif
