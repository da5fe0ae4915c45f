/* The loopback floor of bench_loopback_write, with io_uring: the same writes and reads of a
 * small frame over as many loopback TCP connections, submitted BATCH at a time with one
 * io_uring_enter() instead of one write() or read() each. What batching across sockets can save
 * is the system call's own entry and exit; the TCP work of each send stays. Comparing the two
 * programs' figures, measured one after the other, tells whether an io_uring transport would
 * bring hubsim's CPU per report nearer its floor.
 *
 * Usage: bench_loopback_uring [CONNECTIONS [ROUNDS [BYTES [BATCH]]]]   (defaults 1000 200 100 64)
 * Prints CPU (user + sys, getrusage: io_uring's worker threads belong to the process) and wall
 * time per call, in the format of bench_loopback_write. */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopback_pairs.h"

/* Submits what is queued and reaps every completion; counts the bytes moved. -1 on an error. */
static int settle(struct io_uring *ring, unsigned queued, int want, long *bytes) {
  if (!queued)
    return 0;
  int rc = io_uring_submit_and_wait(ring, queued);
  if (rc < 0) {
    fprintf(stderr, "bench_loopback_uring: submit: %s\n", strerror(-rc));
    return -1;
  }
  for (unsigned done = 0; done < queued; done++) {
    struct io_uring_cqe *cqe;
    if ((rc = io_uring_wait_cqe(ring, &cqe)) < 0) {
      fprintf(stderr, "bench_loopback_uring: wait: %s\n", strerror(-rc));
      return -1;
    }
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    if (res < 0 || (want && res != want)) {
      fprintf(stderr, "bench_loopback_uring: a %s returned %d\n", want ? "send" : "recv", res);
      return -1;
    }
    *bytes += res;
  }
  return 0;
}

/* One pass of rounds x n operations on fds, batch at a time. */
static int pass(struct io_uring *ring, const int *fds, int n, int rounds, char *buf, int bytes,
                unsigned batch, int is_send, long *moved) {
  unsigned queued = 0;
  for (int k = 0; k < rounds; k++)
    for (int i = 0; i < n; i++) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
      if (!sqe) {
        fprintf(stderr, "bench_loopback_uring: submission queue full\n");
        return -1;
      }
      if (is_send)
        io_uring_prep_send(sqe, fds[i], buf, (size_t)bytes, 0);
      else
        io_uring_prep_recv(sqe, fds[i], buf, (size_t)bytes, 0);
      if (++queued == batch) {
        if (settle(ring, queued, is_send ? bytes : 0, moved))
          return -1;
        queued = 0;
      }
    }
  return settle(ring, queued, is_send ? bytes : 0, moved);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  int rounds = argc > 2 ? atoi(argv[2]) : 200;
  int bytes = argc > 3 ? atoi(argv[3]) : 100;
  int batch = argc > 4 ? atoi(argv[4]) : 64;
  if (n < 1 || n > 8000 || rounds < 1 || bytes < 1 || bytes > 4096 || batch < 1 || batch > 4096) {
    fprintf(stderr, "usage: bench_loopback_uring [CONNECTIONS<=8000 [ROUNDS [BYTES<=4096 "
                    "[BATCH<=4096]]]]\n");
    return 2;
  }
  struct io_uring ring;
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  /* One thread submits and reaps: completions need not interrupt it. */
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params((unsigned)batch, &ring, &p);
  if (rc == -EINVAL) {
    memset(&p, 0, sizeof p);
    rc = io_uring_queue_init_params((unsigned)batch, &ring, &p);
  }
  if (rc < 0) {
    fprintf(stderr, "bench_loopback_uring: io_uring_queue_init: %s\n", strerror(-rc));
    return 3;
  }
  int *c, *s;
  if (loopback_pairs("bench_loopback_uring", n, &c, &s))
    return 3;
  char buf[4096] = {0};
  long calls = (long)rounds * n, sent = 0, got = 0;
  /* As in bench_loopback_write: sends round robin over the connections, then the reads. */
  double c0 = cpu(), t0 = mono();
  if (pass(&ring, c, n, rounds, buf, bytes, (unsigned)batch, 1, &sent))
    return 3;
  double c1 = cpu(), t1 = mono();
  printf("write %d B, %d connections: %.2f us CPU, %.2f us wall per call (%ld calls, io_uring, "
         "%d per submit)\n",
         bytes, n, (c1 - c0) * 1e6 / (double)calls, (t1 - t0) * 1e6 / (double)calls, calls, batch);
  c0 = cpu();
  t0 = mono();
  if (pass(&ring, s, n, rounds, buf, bytes, (unsigned)batch, 0, &got))
    return 3;
  c1 = cpu();
  t1 = mono();
  printf("read  %d B, %d connections: %.2f us CPU, %.2f us wall per call (%ld bytes read, "
         "io_uring, %d per submit)\n",
         bytes, n, (c1 - c0) * 1e6 / (double)calls, (t1 - t0) * 1e6 / (double)calls, got, batch);
  io_uring_queue_exit(&ring);
  return 0;
}
