/* Test certificates, made at test time by mkcerts.sh (next to this file) with the openssl
 * command-line tool into a fresh temporary folder; no key is part of the source tree.
 * Ownership: the caller owns struct tlscerts; tlscerts_rm() removes the folder. */
#ifndef TESTS_TLS_TLSCERTS_H
#define TESTS_TLS_TLSCERTS_H

struct tlscerts {
  char dir[256];
};

/* Makes the folder and every certificate (see mkcerts.sh for the list). 0, or -1 with a line
 * on stderr. */
int tlscerts_make(struct tlscerts *c);
/* The path of NAME in the folder ("server.pem"), in static storage that the next call reuses. */
const char *tlscerts_path(const struct tlscerts *c, const char *name);
/* A second static path buffer, for the call that needs two paths at once. */
const char *tlscerts_path2(const struct tlscerts *c, const char *name);
void tlscerts_rm(struct tlscerts *c);

/* One set for a whole cmocka group: its group setup and teardown (state unused). */
extern struct tlscerts tlscerts_group;
int tlscerts_group_setup(void **state);
int tlscerts_group_teardown(void **state);

#endif
