/* Internals of `hubsim provision` shared by its files: provision.c (the flags and the fleet's
 * identities) and provision_out.c (the output folder: staged, written, published). Not an
 * API. */
#ifndef APP_PROVISION_INTERNAL_H
#define APP_PROVISION_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/core/wfile.h"

/* The output folder while it is written: a private staging folder next to the target (mode
 * 0700, ".NAME.XXXXXX.tmp"), renamed over the target once complete. */
struct prov_out {
  char target[PATH_MAX];  /* --out as given */
  char staging[PATH_MAX]; /* "" until created */
  int target_exists;      /* an empty folder, or an earlier output (--force) */
};

/* Checks --out before any work: it must not exist, or be an empty folder, or (with force) a
 * folder an earlier `hubsim provision` wrote; its parent must be a writable folder. 0, or 2
 * after a message naming the folder and the problem. */
int prov_out_check(struct prov_out *o, const char *dir, int force);
/* Creates the staging folder and its hubs/ folder. 0, or 3 after a message. */
int prov_out_stage(struct prov_out *o);
/* Opens the staged file rel (e.g. "ca.key") for writing with mode (0600 for secrets). 0, or 3
 * after a message; on success exactly one of sim_wfile_commit or sim_wfile_abort follows. */
int prov_out_open(struct prov_out *o, const char *rel, unsigned mode, struct sim_wfile *w);
/* Writes len bytes to the staged file rel in one go (opened with mode, committed). 0 or 3. */
int prov_out_write(struct prov_out *o, const char *rel, unsigned mode, const char *data,
                   size_t len);
/* Makes the staged folder durable and puts it in place of the target (an earlier output is
 * removed once replaced). 0, or 3 after a message (the target is then as it was). */
int prov_out_publish(struct prov_out *o);
/* Removes the staging folder and what it holds (after a failure; nothing when not created). */
void prov_out_discard(struct prov_out *o);

/* Writes field to fp as one CSV field (RFC 4180: quoted when it holds ',', '"' or a line
 * break). */
void prov_csv_field(FILE *fp, const char *field);

/* The file that marks a folder as written by `hubsim provision` (what --force may replace). */
#define PROV_MARKER "hubsim-provision.txt"

#endif
