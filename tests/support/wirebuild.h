/* Builders of hostile but well-framed hubrpc input for tests: frames whose shape (nesting,
 * count of fields, size) is what a hostile peer would choose. Every builder appends one frame
 * (varint length + body) to out and returns 0, SIM_ENOMEM, or SIM_ETOOBIG when the body would
 * exceed SIM_FRAME_MAX.
 *
 * Ownership: out is the caller's; the builders only append to it. */
#ifndef TESTS_SUPPORT_WIREBUILD_H
#define TESTS_SUPPORT_WIREBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "sim/core/buf.h"

/* Envelope{report{seq, attributes = [A]}} where A is a chain of `depth` Attributes: A at level 1,
 * its one member at level 2, and so on (depth >= 1); the innermost one is empty. About 3.4 bytes
 * a level: 8,800 levels make a 30 KB frame. With long_keys, every members key is
 * written in a two-byte, non-minimal form (CA 00 for field 9) that protobuf runtimes accept.
 * seq 0 is left out (as protobuf leaves out a default). */
int wb_deep_report(struct sim_buf *out, unsigned depth, int long_keys, uint64_t seq);

/* The same chain of Attributes, but inside an unknown field (number 15) of the Envelope, which a
 * receiver keeps as opaque bytes: it decodes as an Envelope without a known body. */
int wb_deep_unknown(struct sim_buf *out, unsigned depth);

/* The number of bytes wb_deep_report() writes for depth (a test picks a depth by size). */
size_t wb_deep_report_size(unsigned depth);

/* Writes the seed file DIR/NAME of a fuzz target: the byte first (the target's mode or chunk
 * byte), then b's bytes, through the crash-safe writer (sim/core/wfile.h), so that an
 * interrupted run leaves no half seed in a corpus. On failure prints the file and the reason
 * and exits the process (it runs only when a target is asked to write its seeds). */
void wb_put_seed(const char *dir, const char *name, uint8_t first, const struct sim_buf *b);

#endif
