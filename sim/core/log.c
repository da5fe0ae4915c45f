#include "sim/core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum sim_log_level level = SIM_LOG_INFO;

void sim_log_set_level(enum sim_log_level lvl) {
  level = lvl;
}
enum sim_log_level sim_log_get_level(void) {
  return level;
}

void sim_log(enum sim_log_level lvl, const char *fmt, ...) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  if (lvl > level)
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hubsim: %s: ", names[lvl]);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void sim_log_limited(struct sim_log_limit *l, unsigned interval_ms, enum sim_log_level lvl,
                     const char *fmt, ...) {
  if (lvl > level)
    return;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  if (now < l->next_ms) {
    l->suppressed++;
    return;
  }
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (l->suppressed)
    sim_log(lvl, "%s (%llu more like this since the last one printed)", msg,
            (unsigned long long)l->suppressed);
  else
    sim_log(lvl, "%s", msg);
  l->suppressed = 0;
  l->next_ms = now + interval_ms;
}
