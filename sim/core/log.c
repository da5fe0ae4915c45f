#include "sim/core/log.h"

#include <stdarg.h>
#include <stdio.h>

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
