/* The floor under hubsim's CPU per report: what one write() and one read() of a small frame
 * cost on a loopback TCP connection of this machine. On loopback the sender's write() also
 * runs the receiving side of TCP, so it is the dominant cost of "one report per hub wakeup".
 *
 * Usage: bench_loopback_write [CONNECTIONS [ROUNDS [BYTES]]]   (defaults 1000 200 100)
 * Prints CPU (user + sys, getrusage) and wall time per call. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "loopback_pairs.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  int rounds = argc > 2 ? atoi(argv[2]) : 200;
  int bytes = argc > 3 ? atoi(argv[3]) : 100;
  if (n < 1 || n > 8000 || rounds < 1 || bytes < 1 || bytes > 4096) {
    fprintf(stderr, "usage: bench_loopback_write [CONNECTIONS<=8000 [ROUNDS [BYTES<=4096]]]\n");
    return 2;
  }
  int *c, *s;
  if (loopback_pairs("bench_loopback_write", n, &c, &s))
    return 3;
  char buf[4096] = {0};
  /* Writes go round robin over the connections, as hubs' reports do; nobody is waiting on the
   * receiving sockets, so no wakeup is included: this is the cheapest case. */
  double c0 = cpu(), t0 = mono();
  for (int k = 0; k < rounds; k++)
    for (int i = 0; i < n; i++)
      if (write(c[i], buf, (size_t)bytes) != bytes) {
        perror("bench_loopback_write: write");
        return 3;
      }
  double c1 = cpu(), t1 = mono();
  long calls = (long)rounds * n;
  printf("write %d B, %d connections: %.2f us CPU, %.2f us wall per call (%ld calls)\n", bytes, n,
         (c1 - c0) * 1e6 / (double)calls, (t1 - t0) * 1e6 / (double)calls, calls);
  c0 = cpu();
  t0 = mono();
  long got = 0;
  for (int k = 0; k < rounds; k++)
    for (int i = 0; i < n; i++) {
      ssize_t r = read(s[i], buf, (size_t)bytes);
      if (r > 0)
        got += r;
    }
  c1 = cpu();
  t1 = mono();
  printf("read  %d B, %d connections: %.2f us CPU, %.2f us wall per call (%ld bytes read)\n", bytes,
         n, (c1 - c0) * 1e6 / (double)calls, (t1 - t0) * 1e6 / (double)calls, got);
  return 0;
}
