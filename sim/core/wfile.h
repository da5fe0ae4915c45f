/* Crash-safe replacement of a file: every output file hubsim writes (the JSON summary, the
 * JUnit file, a screenshot) goes through here, so that a reader never sees half a file and a
 * planted link never redirects the write.
 *
 *   struct sim_wfile w;
 *   int rc = sim_wfile_open(&w, "out/summary.json");
 *   if (rc == 0) {
 *     fputs(text, w.fp);                 (or write(w.fd, ...))
 *     rc = sim_wfile_commit(&w);         (or sim_wfile_abort(&w) to give up)
 *   }
 *
 * sim_wfile_open() creates a new temporary file in the target's directory, named
 * ".NAME.XXXXXX.tmp" (six random characters; the leading dot keeps it out of globs such as
 * "*.json"), with O_CREAT | O_EXCL | O_NOFOLLOW: it never opens an existing file and never
 * follows a symbolic link, whatever an attacker planted there. Its mode is 0666 less the umask,
 * as a plain fopen() would give. sim_wfile_commit() flushes the stream, fsyncs the file,
 * renames it over the target (a link at the target is replaced, not followed) and fsyncs the
 * directory; on any failure, and in sim_wfile_abort(), the temporary file is removed and the
 * target is left as it was.
 *
 * Ownership: the caller owns struct sim_wfile; after a successful open exactly one of commit
 * or abort must be called, which release everything. Blocking calls; any thread. */
#ifndef SIM_CORE_WFILE_H
#define SIM_CORE_WFILE_H

#include <limits.h>
#include <stdio.h>

struct sim_wfile {
  unsigned flags; /* SIM_WFILE_* of sim_wfile_open_mode() */
  int fd;         /* the temporary file; -1 when not open */
  FILE *fp;       /* a stream over fd, for fprintf/fwrite writers (do not fclose it) */
  char path[PATH_MAX];
  char tmp[PATH_MAX];
  char dir[PATH_MAX];
};

/* Creates the temporary file for path. 0, or SIM_EINVAL (empty path, or a path ending in '/'),
 * -ENAMETOOLONG, or the negative errno of the create (e.g. -ENOENT for a missing directory). On
 * failure nothing is left behind and *w needs no abort. */
int sim_wfile_open(struct sim_wfile *w, const char *path);

/* For a new file in a private staging folder that the caller makes durable as a whole (syncfs)
 * and then renames into place: the file is created under its own name (still O_EXCL |
 * O_NOFOLLOW: never an existing file, never through a link), and commit neither renames nor
 * fsyncs. Abort, or a failed commit, removes it. Where thousands of files are written, one sync
 * and no second directory entry per file is what keeps the write fast. */
#define SIM_WFILE_STAGED 1u
/* sim_wfile_open() with the file created with mode (less the umask) instead of 0666 (0600 for a
 * private key, so that no moment exists when others may open it), and flags (SIM_WFILE_*). */
int sim_wfile_open_mode(struct sim_wfile *w, const char *path, unsigned mode, unsigned flags);
/* Makes the written bytes the new content of path. 0 or a negative errno; the temporary file is
 * gone either way. */
int sim_wfile_commit(struct sim_wfile *w);
/* Gives up: the temporary file is closed and removed; path is untouched. */
void sim_wfile_abort(struct sim_wfile *w);

/* Whether path could be written here as things stand, for a command line that names an output
 * file: checked when the flags are read, rather than found out when the work that ends by
 * writing it is done. 0, or SIM_EINVAL with a sentence in why (cap bytes): "empty file name",
 * "names a folder, not a file", "is a folder", "its folder 'D' does not exist", "its folder 'D'
 * is not writable", "path longer than N bytes". Nothing is created. */
int sim_wfile_check(const char *path, char *why, size_t cap);

#endif
