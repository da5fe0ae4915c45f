/* Logging to stderr with a level. Not for the hot path: callers there count, and the
 * counts are printed. */
#ifndef SIM_CORE_LOG_H
#define SIM_CORE_LOG_H

#include <stdint.h>

enum sim_log_level { SIM_LOG_ERROR = 0, SIM_LOG_WARN, SIM_LOG_INFO, SIM_LOG_DEBUG };

void sim_log_set_level(enum sim_log_level lvl);
enum sim_log_level sim_log_get_level(void);
void sim_log(enum sim_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One recurring condition's lines, at most one per interval: the first line is printed, those
 * within interval_ms after it are only counted, and the next printed line ends with how many
 * were left out. For conditions a peer or a failing disk can repeat thousands of times a
 * second. Caller-owned, zero-initialised; one thread. */
struct sim_log_limit {
  uint64_t next_ms; /* monotonic ms before which lines are counted, not printed */
  uint64_t suppressed;
};
void sim_log_limited(struct sim_log_limit *l, unsigned interval_ms, enum sim_log_level lvl,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define SIM_LOGE(...) sim_log(SIM_LOG_ERROR, __VA_ARGS__)
#define SIM_LOGW(...) sim_log(SIM_LOG_WARN, __VA_ARGS__)
#define SIM_LOGI(...) sim_log(SIM_LOG_INFO, __VA_ARGS__)
#define SIM_LOGD(...)                                                                              \
  do {                                                                                             \
    if (sim_log_get_level() >= SIM_LOG_DEBUG)                                                      \
      sim_log(SIM_LOG_DEBUG, __VA_ARGS__);                                                         \
  } while (0)

#endif
