/* Numbers as people type them on a command line, one grammar for every flag of every command
 * (hubsim run, hubsim platform, hubsim devices):
 *
 *   whole   = digit { digit }                       at most 20 digits
 *   decimal = digit { digit } [ "." digit { digit } ]   at most 30 digits each side
 *
 * Plain decimal text only: no sign, no exponent, no hex, no spaces, no "inf" or "nan". strtoull
 * and strtod would take all of those ("+5", " 5", "1e3", "0x10", "inf"), so a typo could pass as
 * a number nobody meant. Every parser names nothing itself and returns 0 or SIM_EINVAL, writing
 * *out only on success; the caller reports the flag and the value. */
#ifndef SIM_CORE_NUM_H
#define SIM_CORE_NUM_H

#include <stdint.h>

/* A whole number in [min, max]. */
int sim_num_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A decimal number ("12", "0.25") in [min, max]; min >= 0, as no sign is accepted. The value is
 * finite (at most about 1e30 before the range check). */
int sim_num_parse_double(const char *s, double min, double max, double *out);

#endif
