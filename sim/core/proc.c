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
