/* UTF-8 checks for text that leaves the process in a protobuf `string` field or a JSON string:
 * runtimes that validate UTF-8 (protobuf for Java and Python, jansson) refuse the whole message
 * when one such field is not well-formed UTF-8. */
#ifndef SIM_CORE_UTF8_H
#define SIM_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed UTF-8 sequence that starts s[0..n), or 0 when n is 0 or the
 * bytes there are not one (a stray continuation byte, a truncated or overlong sequence, a
 * surrogate, a code point above U+10FFFF). */
size_t sim_utf8_seq(const uint8_t *s, size_t n);

/* Copies the NUL-terminated text in into out[0..cap) as well-formed UTF-8: at most cap - 1
 * bytes, never cutting a character in two, each byte that does not start a well-formed
 * sequence replaced by '?'. out is always terminated (cap must be at least 1). Returns the
 * number of bytes written before the terminator. */
size_t sim_utf8_copy(char *out, size_t cap, const char *in);

#endif
