/* `hubsim run` and `hubsim platform --mqtt` as child processes of an MQTT test, on the test's
 * loop (struct mq_loop), so that a broker of the test's own can serve while they run: the run's
 * output goes to a file, its summary is read with jansson, and every wait is bounded.
 *
 * Ownership: the caller owns struct mq_run; mq_run_wait() reaps the child (killing it at its
 * deadline). */
#ifndef TESTS_INTEGRATION_MQTT_MQRUN_H
#define TESTS_INTEGRATION_MQTT_MQRUN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "mqtest.h"

struct mq_run {
  uv_process_t proc;
  int exited, status, started;
  char log[300];     /* stdout and stderr */
  char summary[300]; /* --summary FILE */
};

/* Starts `$HUBSIM_BIN run ARGS... --allow-lag -q --ui none --summary DIR/NAME.json` (args
 * NULL-terminated, at most 40) with its output in DIR/NAME.log. */
void mq_run_start(struct mq_run *r, struct mq_loop *m, const char *name, const char *const *args);
/* Runs the loop until the run exits or ms pass (then it is killed and the test fails);
 * returns its exit code. */
int mq_run_wait(struct mq_run *r, struct mq_loop *m, unsigned ms);
/* The run's output (static buffer, the last 16 KiB), for failure messages. */
const char *mq_run_output(const struct mq_run *r);
/* Fails the test with the run's output first: fail_msg() alone cuts a message near 1 KiB, which
 * would hide the summary. */
#define MQ_RUN_FAIL(r, ...)                                                                        \
  do {                                                                                             \
    fputs(mq_run_output(r), stderr);                                                               \
    fail_msg(__VA_ARGS__);                                                                         \
  } while (0)
/* The run's summary (the caller json_decref()s it); the test fails without one. */
json_t *mq_run_summary(const struct mq_run *r);
/* The integer at a dotted path of keys ("counts.reports.acked"); the test fails when there is
 * none. */
json_int_t mq_jint(json_t *root, const char *path);

#endif
