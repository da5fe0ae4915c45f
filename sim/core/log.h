/* Logging to stderr with a level. Not for the hot path: callers there count, and the
 * counts are printed. */
#ifndef SIM_CORE_LOG_H
#define SIM_CORE_LOG_H

enum sim_log_level { SIM_LOG_ERROR = 0, SIM_LOG_WARN, SIM_LOG_INFO, SIM_LOG_DEBUG };

void sim_log_set_level(enum sim_log_level lvl);
enum sim_log_level sim_log_get_level(void);
void sim_log(enum sim_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SIM_LOGE(...) sim_log(SIM_LOG_ERROR, __VA_ARGS__)
#define SIM_LOGW(...) sim_log(SIM_LOG_WARN, __VA_ARGS__)
#define SIM_LOGI(...) sim_log(SIM_LOG_INFO, __VA_ARGS__)
#define SIM_LOGD(...)                                                                              \
  do {                                                                                             \
    if (sim_log_get_level() >= SIM_LOG_DEBUG)                                                      \
      sim_log(SIM_LOG_DEBUG, __VA_ARGS__);                                                         \
  } while (0)

#endif
