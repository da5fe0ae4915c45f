/* Helpers of the scenario library tests: run the real binary ($HUBSIM_BIN) with a time limit
 * and capture what it prints, and read whole files.
 *
 * Ownership: struct scnrun_out owns its two heap buffers; scnrun_free() releases them.
 * scnrun_slurp() returns a heap buffer the caller frees. */
#ifndef TESTS_SCENARIOS_SCNRUN_H
#define TESTS_SCENARIOS_SCNRUN_H

#include <stddef.h>

struct scnrun_out {
  char *out; /* stdout, NUL-terminated */
  size_t out_len;
  char *err; /* stderr, NUL-terminated */
  size_t err_len;
  int status;      /* exit code 0..255, or -1 (killed by a signal, timed out, could not start) */
  int timed_out;   /* 1 when the time limit killed it */
  double wall_s;   /* how long it ran */
  double signal_s; /* scnrun_run_signal: from the first signal to the exit; -1: none sent */
};

/* Runs `argv[0] argv[1..]` (NULL-terminated; argv[0] is the program path) with stdin on
 * /dev/null, waits at most timeout_s seconds (then kills it). Returns r->status. */
int scnrun_run(const char *const *argv, double timeout_s, struct scnrun_out *r);
void scnrun_free(struct scnrun_out *r);

/* As scnrun_run, and once stderr contains marker and the child has used at least cpu_s seconds
 * of CPU (how a test sees that it is busy in a long computation: an idle run uses next to
 * none), sends sig to it, then again every second until it exits. */
int scnrun_run_signal(const char *const *argv, double timeout_s, const char *marker, double cpu_s,
                      int sig, struct scnrun_out *r);

/* Reads a whole file; NULL when it cannot. *len gets its size (the buffer is NUL-terminated
 * one byte past it). */
char *scnrun_slurp(const char *path, size_t *len);

#endif
