/* The output folder of `hubsim provision`: written whole or not at all.
 *
 * Everything goes into a private staging folder next to the target (same file system, mode
 * 0700 from mkdtemp), each file through sim/core/wfile (created 0600 for secrets, never
 * following a planted link). The folder, not each file, is the unit that appears at once, so
 * files are written in place (SIM_WFILE_STAGED: no temporary name and rename each, which cost
 * more than twice the time of a plain create at 200,000 files) and not fsynced one by one (a
 * sync each would take minutes); instead the whole file system is synced once (syncfs) before
 * the folder is renamed into place, so after a crash there is either the
 * old target or the complete new one (and at worst a hidden staging folder). An earlier output
 * (--force) is swapped out atomically (renameat2 RENAME_EXCHANGE) and then removed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2, syncfs, nftw */
#endif
#include "app/provision_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"

static int out_fail(const char *what, const char *path, int err) {
  fprintf(stderr, "hubsim provision: %s '%s': %s\n", what, path, sim_strerror(err));
  return 3;
}

/* The folder part of path ("." for a bare name) into dir. */
static void parent_of(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, cap, ".");
  else if (slash == path)
    snprintf(dir, cap, "/");
  else
    snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

/* 1 when dir holds nothing, 0 when it holds something, negative errno when unreadable. */
static int dir_empty(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return -errno;
  struct dirent *e;
  int empty = 1;
  while (empty && (e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      empty = 0;
  closedir(d);
  return empty;
}

static int bad_out(const char *dir, const char *why) {
  fprintf(stderr, "hubsim provision: --out '%s': %s (see hubsim provision --help)\n", dir, why);
  return 2;
}

int prov_out_check(struct prov_out *o, const char *dir, int force) {
  memset(o, 0, sizeof *o);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--; /* "out/" names the folder "out" */
  if (n == 0)
    return bad_out(dir, "empty folder name");
  /* Room for the staging name and the longest file inside ("hubs/ID.key" and wfile's
   * temporary name around it). */
  if (n > PATH_MAX - 200)
    return bad_out(dir, "path too long");
  snprintf(o->target, sizeof o->target, "%.*s", (int)n, dir);
  char parent[PATH_MAX];
  parent_of(o->target, parent, sizeof parent);
  struct stat sb;
  if (stat(parent, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    char why[PATH_MAX + 64];
    snprintf(why, sizeof why, "its parent folder '%s' does not exist", parent);
    return bad_out(dir, why);
  }
  if (access(parent, W_OK | X_OK) != 0) {
    char why[PATH_MAX + 64];
    snprintf(why, sizeof why, "its parent folder '%s' is not writable", parent);
    return bad_out(dir, why);
  }
  if (lstat(o->target, &sb) != 0) {
    if (errno != ENOENT)
      return bad_out(dir, strerror(errno));
    return 0;
  }
  if (!S_ISDIR(sb.st_mode))
    return bad_out(dir, "exists and is not a folder");
  int e = dir_empty(o->target);
  if (e < 0)
    return bad_out(dir, sim_strerror(e));
  o->target_exists = 1;
  if (e == 1)
    return 0;
  if (!force)
    return bad_out(dir, "is not empty; --force replaces an earlier hubsim provision output");
  char marker[PATH_MAX + 32];
  snprintf(marker, sizeof marker, "%s/%s", o->target, PROV_MARKER);
  if (lstat(marker, &sb) != 0 || !S_ISREG(sb.st_mode))
    return bad_out(dir, "is not empty and was not written by hubsim provision (no " PROV_MARKER
                        "): --force replaces only such a folder");
  return 0;
}

int prov_out_stage(struct prov_out *o) {
  char parent[PATH_MAX];
  parent_of(o->target, parent, sizeof parent);
  const char *slash = strrchr(o->target, '/');
  const char *base = slash ? slash + 1 : o->target;
  /* prov_out_check() kept the target 200 bytes short of PATH_MAX: this fits. */
  if (snprintf(o->staging, sizeof o->staging, "%.*s/.%.*s.XXXXXX", PATH_MAX - 200, parent,
               PATH_MAX - 200, base) >= (int)sizeof o->staging) {
    o->staging[0] = '\0';
    return out_fail("path too long:", o->target, -ENAMETOOLONG);
  }
  if (!mkdtemp(o->staging)) {
    int err = -errno;
    o->staging[0] = '\0';
    return out_fail("cannot create a staging folder next to", o->target, err);
  }
  char hubs[PATH_MAX + 8];
  snprintf(hubs, sizeof hubs, "%s/hubs", o->staging);
  if (mkdir(hubs, 0700) != 0)
    return out_fail("cannot create", hubs, -errno);
  return 0;
}

int prov_out_open(struct prov_out *o, const char *rel, unsigned mode, struct sim_wfile *w) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", o->staging, rel) >= (int)sizeof path)
    return out_fail("path too long:", rel, -ENAMETOOLONG);
  int rc = sim_wfile_open_mode(w, path, mode, SIM_WFILE_STAGED);
  return rc ? out_fail("cannot write", path, rc) : 0;
}

int prov_out_write(struct prov_out *o, const char *rel, unsigned mode, const char *data,
                   size_t len) {
  struct sim_wfile w;
  int rc = prov_out_open(o, rel, mode, &w);
  if (rc)
    return rc;
  if (fwrite(data, 1, len, w.fp) != len) {
    int err = errno ? -errno : SIM_EIO;
    sim_wfile_abort(&w);
    return out_fail("cannot write", rel, err);
  }
  rc = sim_wfile_commit(&w);
  return rc ? out_fail("cannot write", rel, rc) : 0;
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return (type == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

/* Removes the tree at path (links are removed, never followed). */
static void rm_tree(const char *path) {
  (void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int prov_out_publish(struct prov_out *o) {
  int dfd = open(o->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return out_fail("cannot open", o->staging, -errno);
  int rc = syncfs(dfd) == 0 ? 0 : -errno;
  close(dfd);
  if (rc)
    return out_fail("cannot sync", o->staging, rc);
  if (!o->target_exists) {
    if (rename(o->staging, o->target) != 0)
      return out_fail("cannot rename the staging folder to", o->target, -errno);
  } else {
    /* The earlier output (or the empty folder) takes the staging name and goes. */
    if (renameat2(AT_FDCWD, o->staging, AT_FDCWD, o->target, RENAME_EXCHANGE) != 0)
      return out_fail("cannot replace", o->target, -errno);
    rm_tree(o->staging);
  }
  o->staging[0] = '\0';
  char parent[PATH_MAX];
  parent_of(o->target, parent, sizeof parent);
  int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd >= 0) {
    (void)fsync(pfd); /* the rename is durable once the parent is */
    close(pfd);
  }
  return 0;
}

void prov_out_discard(struct prov_out *o) {
  if (o->staging[0])
    rm_tree(o->staging);
  o->staging[0] = '\0';
}

void prov_csv_field(FILE *fp, const char *field) {
  if (!strpbrk(field, ",\"\r\n")) {
    fputs(field, fp);
    return;
  }
  fputc('"', fp);
  for (const char *p = field; *p; p++) {
    if (*p == '"')
      fputc('"', fp);
    fputc(*p, fp);
  }
  fputc('"', fp);
}
