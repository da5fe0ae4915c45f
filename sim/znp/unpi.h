/* UNPI framing of the Z-Stack monitor-and-test (MT) protocol, as a ZNP radio speaks it on its
 * serial line (TI's "Unified Network Processor Interface", Z-Stack Monitor and Test API, 2.1):
 *
 *   SOF 0xFE | LEN | CMD0 = type << 5 | subsystem | CMD1 = command id | DATA[LEN] | FCS
 *
 * FCS is the XOR of LEN, CMD0, CMD1 and DATA. Types: POLL 0, SREQ 1, AREQ 2, SRSP 3. LEN is one
 * byte, but the MT specification bounds the data at 250 bytes (MT_RPC_DATA_MAX = 250 in
 * Z-Stack's mt_rpc.h, and zigbee-herdsman's unpi/constants.ts has the same MaxDataSize); a
 * longer LEN is refused here rather than framed, so no peer makes us buffer what no Z-Stack
 * sends.
 *
 * The reader is a pure function of the bytes pushed into it: no allocation, no I/O. One
 * reader per stream; one thread. */
#ifndef SIM_ZNP_UNPI_H
#define SIM_ZNP_UNPI_H

#include <stddef.h>
#include <stdint.h>

#define SIM_ZNP_SOF 0xFE
#define SIM_ZNP_MAX_DATA 250
#define SIM_ZNP_MAX_FRAME (SIM_ZNP_MAX_DATA + 5) /* SOF, LEN, CMD0, CMD1, FCS */

enum sim_znp_type { SIM_ZNP_POLL = 0, SIM_ZNP_SREQ = 1, SIM_ZNP_AREQ = 2, SIM_ZNP_SRSP = 3 };

struct sim_znp_frame {
  uint8_t type;   /* enum sim_znp_type (CMD0 bits 7..5) */
  uint8_t subsys; /* CMD0 bits 4..0 */
  uint8_t cmd;    /* CMD1 */
  uint8_t len;    /* bytes of data, at most SIM_ZNP_MAX_DATA */
  uint8_t data[SIM_ZNP_MAX_DATA];
};

/* XOR of n bytes. */
uint8_t sim_znp_fcs(const uint8_t *p, size_t n);

/* Writes f as one UNPI frame into out (cap bytes; SIM_ZNP_MAX_FRAME always suffices) and its
 * size into *n. SIM_ETOOBIG when f->len exceeds SIM_ZNP_MAX_DATA or cap is short; type above
 * 3 or subsystem above 31 is the caller's bug (assert). */
int sim_znp_frame_encode(const struct sim_znp_frame *f, uint8_t *out, size_t cap, size_t *n);

struct sim_znp_reader {
  uint8_t buf[SIM_ZNP_MAX_FRAME]; /* the frame being assembled, from its SOF */
  size_t have;                    /* bytes of buf in use */
  uint64_t frames;                /* frames read whole */
  uint64_t skipped;               /* bytes dropped while looking for SOF (e.g. 0xEF) */
  uint64_t bad_fcs;               /* frames dropped: FCS mismatch */
  uint64_t bad_len;               /* frames dropped: LEN above SIM_ZNP_MAX_DATA */
};

void sim_znp_reader_init(struct sim_znp_reader *r);

/* Consumes bytes from *in (advancing *in and *inlen) until one frame is whole, and returns:
 *   0              the frame in *out; call again for the rest of the input
 *   SIM_EAGAIN     every byte consumed, no whole frame yet
 *   SIM_EMALFORMED a frame whose FCS did not match was dropped ("bad FCS")
 *   SIM_ETOOBIG    a LEN above 250 was seen; its SOF is dropped and the reader looks for the
 *                  next SOF ("bad length")
 * After an error the reader has resynchronised and the caller may go on calling. Bytes before
 * a SOF are skipped silently (a host sends 0xEF to skip a CC253x boot loader). *why, when not
 * NULL, gets a static sentence for an error. */
int sim_znp_reader_next(struct sim_znp_reader *r, const uint8_t **in, size_t *inlen,
                        struct sim_znp_frame *out, const char **why);

#endif
