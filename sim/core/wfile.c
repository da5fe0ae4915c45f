#include "sim/core/wfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"

/* Six characters from a 64-letter alphabet: 36 bits, drawn fresh for every attempt, so that
 * another user cannot predict (and pre-create) the name; O_EXCL makes a collision harmless. */
static void random_suffix(char out[7]) {
  static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
  uint8_t r[6];
  if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    /* No entropy yet (early boot): the pid and a counter still make a collision unlikely, and
     * O_EXCL keeps one harmless. */
    static unsigned counter;
    uint64_t x = ((uint64_t)getpid() << 20) ^ (uint64_t)counter++ * 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (uint8_t)(x >> (8 * i));
  }
  for (size_t i = 0; i < sizeof r; i++)
    out[i] = abc[r[i] & 63];
  out[6] = '\0';
}

int sim_wfile_open(struct sim_wfile *w, const char *path) {
  return sim_wfile_open_mode(w, path, 0666, 0);
}

int sim_wfile_open_mode(struct sim_wfile *w, const char *path, unsigned mode, unsigned flags) {
  memset(w, 0, sizeof(*w));
  w->fd = -1;
  w->flags = flags;
  if (!path || !path[0])
    return SIM_EINVAL;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!base[0])
    return SIM_EINVAL; /* "dir/": no file name */
  if (strlen(path) >= sizeof(w->path))
    return -ENAMETOOLONG;
  snprintf(w->path, sizeof(w->path), "%s", path);
  if (slash == path)
    snprintf(w->dir, sizeof(w->dir), "/");
  else if (slash)
    snprintf(w->dir, sizeof(w->dir), "%.*s", (int)(slash - path), path);
  else
    snprintf(w->dir, sizeof(w->dir), ".");
  int rc = -EEXIST;
  if (flags & SIM_WFILE_STAGED) {
    snprintf(w->tmp, sizeof(w->tmp), "%s", path); /* written in place: no temporary name */
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (w->fd < 0)
      return -errno;
  }
  for (int attempt = 0; attempt < 32 && w->fd < 0; attempt++) {
    char sfx[7];
    random_suffix(sfx);
    /* Same directory as the target, so the rename cannot cross file systems. */
    int n = snprintf(w->tmp, sizeof(w->tmp), "%s/.%s.%s.tmp", w->dir, base, sfx);
    if (n < 0 || (size_t)n >= sizeof(w->tmp))
      return -ENAMETOOLONG;
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    if (w->fd < 0 && errno != EEXIST)
      return -errno;
  }
  if (w->fd < 0)
    return rc;
  w->fp = fdopen(w->fd, "w");
  if (!w->fp) {
    rc = errno ? -errno : SIM_ENOMEM;
    close(w->fd);
    unlink(w->tmp);
    w->fd = -1;
    return rc;
  }
  return 0;
}

void sim_wfile_abort(struct sim_wfile *w) {
  if (w->fd < 0)
    return;
  fclose(w->fp);
  unlink(w->tmp);
  w->fp = NULL;
  w->fd = -1;
}

int sim_wfile_commit(struct sim_wfile *w) {
  if (w->fd < 0)
    return SIM_EINVAL;
  int rc = 0;
  errno = 0;
  if (fflush(w->fp) != 0 || ferror(w->fp))
    rc = errno ? -errno : SIM_EIO;
  if (rc == 0 && !(w->flags & SIM_WFILE_STAGED) && fsync(w->fd) != 0)
    rc = -errno;
  if (fclose(w->fp) != 0 && rc == 0)
    rc = errno ? -errno : SIM_EIO;
  w->fp = NULL;
  w->fd = -1;
  if (rc == 0 && !(w->flags & SIM_WFILE_STAGED) && rename(w->tmp, w->path) != 0)
    rc = -errno;
  if (rc) {
    unlink(w->tmp);
    return rc;
  }
  if (w->flags & SIM_WFILE_STAGED)
    return 0;
  /* The rename is durable only once the directory is on disk. Some file systems refuse fsync
   * on a directory (EINVAL): the file is complete either way. */
  int dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return 0;
}

int sim_wfile_check(const char *path, char *why, size_t cap) {
  /* The temporary name adds ".", "." and ".XXXXXX.tmp" to the path: all of it must fit. */
  const size_t max_len = PATH_MAX - 16;
  if (!path || !*path) {
    snprintf(why, cap, "empty file name");
    return SIM_EINVAL;
  }
  if (strlen(path) > max_len) {
    snprintf(why, cap, "path longer than %zu bytes", max_len);
    return SIM_EINVAL;
  }
  const char *slash = strrchr(path, '/');
  if (slash && !slash[1]) {
    snprintf(why, cap, "names a folder, not a file");
    return SIM_EINVAL;
  }
  char dir[PATH_MAX];
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    snprintf(why, cap, "its folder '%.200s' does not exist", dir);
    return SIM_EINVAL;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    snprintf(why, cap, "its folder '%.200s' is not writable", dir);
    return SIM_EINVAL;
  }
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    snprintf(why, cap, "is a folder");
    return SIM_EINVAL;
  }
  return 0;
}
