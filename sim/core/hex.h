/* Hexadecimal text of bytes, the one encoder and decoder every room uses (payloads on the admin
 * lines and in scenario scripts, octet strings in JSON, the catalogue's hex values, frames shown
 * by `hubsim devices`).
 *
 * Written here rather than taken from libcrypto: OPENSSL_buf2hexstr() writes upper case only,
 * with ':' between bytes, and both it and OPENSSL_hexstr2buf() allocate; the admin protocol and
 * the JSON outputs are lower case, `hubsim devices` prints upper case, and a decoder of peer
 * or script text should write into the caller's bounded buffer and say which rule the text
 * broke. No allocation except in sim_hex_dup(); any thread. */
#ifndef SIM_CORE_HEX_H
#define SIM_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Flags. */
#define SIM_HEX_UPPER 1u /* encode: "0A1B" instead of "0a1b" */
#define SIM_HEX_SPACED                                                                             \
  2u /* encode: one space between bytes ("0a 1b"); decode: spaces may stand                        \
        between bytes (never inside one) */

/* Writes the hex digits of p[0..n) and a terminating NUL to out, which must hold 2n + 1 bytes
 * (3n + 1 with SIM_HEX_SPACED; enough for both: sim_hex_size()). Returns the number of
 * characters written before the NUL. */
size_t sim_hex_encode(char *out, const uint8_t *p, size_t n, unsigned flags);
/* Bytes sim_hex_encode() needs for n bytes with these flags, the NUL included. */
size_t sim_hex_size(size_t n, unsigned flags);
/* The same text in a new heap string (free() it), or NULL when out of memory. */
char *sim_hex_dup(const uint8_t *p, size_t n, unsigned flags);

/* The value 0..15 of the hex digit c (either case), or -1. */
int sim_hex_digit(int c);

/* Decodes the hex text s[0..len) (digits of either case, no "0x", no separators except spaces
 * between bytes with SIM_HEX_SPACED) into out[0..cap). The checks come in this order, so a
 * caller can name the first rule the text breaks:
 *   SIM_EMALFORMED  a character that is not a hex digit (or a space where none may be)
 *   SIM_EINVAL      an odd number of digits
 *   SIM_ETOOBIG     more than cap bytes
 * 0 and the byte count in *n on success; out and *n are written only then. An empty text is
 * 0 bytes. */
int sim_hex_decode(const char *s, size_t len, unsigned flags, uint8_t *out, size_t cap, size_t *n);

#endif
