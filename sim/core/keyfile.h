/* Secrets read from a file (a fleet key for --fleet-key-file), so that they never appear on a
 * command line, where every local user can read them (ps, /proc/PID/cmdline).
 *
 * The file must be a regular file (a link to one is fine) that other users can neither read
 * nor write: a key every local user can read is no secret, and one they can write is not
 * ours. Mode 0600 or 0640 passes, 0644 is refused, as ssh refuses a private key with loose
 * permissions. One trailing newline ("\n" or "\r\n", as an editor or `echo` leaves) is not part
 * of the key. An empty key, a key with a NUL byte and one longer than the caller's buffer are
 * refused. Blocking; any thread. */
#ifndef SIM_CORE_KEYFILE_H
#define SIM_CORE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

/* Reads the key at path into out (cap bytes; no terminator added) and its length into *len.
 * 0, or a negative code with *why set to a sentence for the user ("is readable by other users
 * (mode 0644): chmod o-rw FILE", "is empty", ...; static storage) and nothing written to
 * *len. A system error comes back as its negative errno (why: its strerror text). */
int sim_keyfile_read(const char *path, uint8_t *out, size_t cap, size_t *len, const char **why);

#endif
