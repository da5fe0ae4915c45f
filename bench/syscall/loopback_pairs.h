/* What both loopback floor programs share: their clocks, and n connected loopback TCP pairs. */
#ifndef BENCH_SYSCALL_LOOPBACK_PAIRS_H
#define BENCH_SYSCALL_LOOPBACK_PAIRS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec +
         (double)r.ru_stime.tv_usec / 1e6;
}

/* n pairs: *c the connecting ends (TCP_NODELAY, blocking), *s the accepted ends (non-blocking),
 * both allocated here. 0, or -1 after a message naming prog. */
static int loopback_pairs(const char *prog, int n, int **c, int **s) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
  socklen_t al = sizeof(a);
  if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 4096) ||
      getsockname(l, (void *)&a, &al)) {
    fprintf(stderr, "%s: listen: ", prog);
    perror(NULL);
    return -1;
  }
  *c = calloc((size_t)n, sizeof(int));
  *s = calloc((size_t)n, sizeof(int));
  if (!*c || !*s) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    (*c)[i] = fd;
    if (fd < 0 || connect(fd, (void *)&a, sizeof(a)) || ((*s)[i] = accept(l, NULL, NULL)) < 0) {
      fprintf(stderr, "%s: connect: ", prog);
      perror(NULL);
      return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl((*s)[i], F_SETFL, O_NONBLOCK);
  }
  return 0;
}

#endif
