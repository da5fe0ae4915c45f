/* Figures about this process that a summary reports. */
#ifndef SIM_CORE_PROC_H
#define SIM_CORE_PROC_H

#include <stdint.h>

/* The peak resident set size of this process image in bytes (VmHWM of /proc/self/status); 0
 * when it cannot be read. Not getrusage()'s ru_maxrss: that one survives execve, so a process
 * started by a large parent would report the parent's peak as its own. */
uint64_t sim_proc_peak_rss(void);

/* Reads this process's proportional set size (Pss of /proc/self/smaps_rollup: its private
 * memory plus its share of pages it shares, such as libraries mapped by several hubsim
 * processes) and returns the largest value read so far in bytes; 0 when it cannot be read. A
 * sampled peak: the caller samples it regularly (each second) and at the end. Not thread-safe:
 * one thread samples. */
uint64_t sim_proc_pss_sample(void);

#endif
