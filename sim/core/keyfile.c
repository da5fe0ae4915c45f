#include "sim/core/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"

int sim_keyfile_read(const char *path, uint8_t *out, size_t cap, size_t *len, const char **why) {
  static char mode_why[96];
  *why = "";
  if (!path || !*path) {
    *why = "empty file name";
    return SIM_EINVAL;
  }
  /* O_NONBLOCK: a FIFO planted at the path must not hang the run; it is refused below. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    *why = strerror(e);
    return -e;
  }
  int rc = 0;
  struct stat sb;
  uint8_t buf[1024];
  size_t n = 0;
  if (fstat(fd, &sb) != 0) {
    rc = -errno;
    *why = strerror(errno);
    goto done;
  }
  if (!S_ISREG(sb.st_mode)) {
    *why = "is not a regular file";
    rc = SIM_EINVAL;
    goto done;
  }
  if (sb.st_mode & (S_IROTH | S_IWOTH)) {
    snprintf(mode_why, sizeof mode_why,
             "is readable or writable by other users (mode %04o): chmod o-rwx on it",
             (unsigned)(sb.st_mode & 07777));
    *why = mode_why;
    rc = SIM_EINVAL;
    goto done;
  }
  for (;;) {
    ssize_t r = read(fd, buf + n, sizeof buf - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = -errno;
      *why = strerror(errno);
      goto done;
    }
    if (r == 0)
      break;
    n += (size_t)r;
    if (n == sizeof buf)
      break;
  }
  if (n && buf[n - 1] == '\n') {
    n--;
    if (n && buf[n - 1] == '\r')
      n--;
  }
  if (n == 0) {
    *why = "is empty";
    rc = SIM_EINVAL;
  } else if (n > cap) {
    *why = "holds a key longer than allowed";
    rc = SIM_ETOOBIG;
  } else if (memchr(buf, 0, n)) {
    *why = "holds a NUL byte";
    rc = SIM_EINVAL;
  } else {
    memcpy(out, buf, n);
    *len = n;
  }
done:
  explicit_bzero(buf, sizeof buf); /* no copy of the key left on the stack */
  close(fd);
  return rc;
}
