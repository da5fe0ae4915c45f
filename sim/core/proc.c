#include "sim/core/proc.h"

#include <stdio.h>

uint64_t sim_proc_peak_rss(void) {
  uint64_t bytes = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  char line[128];
  unsigned long long kb;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
      bytes = (uint64_t)kb * 1024u;
  fclose(f);
  return bytes;
}

uint64_t sim_proc_pss_sample(void) {
  static uint64_t peak;
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  if (!f)
    return peak;
  char line[128];
  unsigned long long kb;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Pss: %llu kB", &kb) == 1) {
      if ((uint64_t)kb * 1024u > peak)
        peak = (uint64_t)kb * 1024u;
      break;
    }
  fclose(f);
  return peak;
}
