/* Varint-delimited framing: every frame is its body length as a base-128 varint (at most
 * 5 bytes), then the body. It is the format of protobuf's writeDelimitedTo, so any protobuf
 * runtime reads the stream. */
#ifndef SIM_WIRE_FRAME_H
#define SIM_WIRE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "sim/core/buf.h"

/* Largest body a peer may declare; a larger declared length is SIM_ETOOBIG and closes. */
#define SIM_FRAME_MAX 65536u

/* Writes the varint of len into out (5 bytes of room); returns the number of bytes used. */
size_t sim_frame_put_len(uint8_t out[5], size_t len);

/* Reads a frame header from p[0..n). On success sets *hdr and *body to the header size and the
 * declared body length. SIM_EAGAIN: need more bytes. SIM_ETOOBIG: declared length > max.
 * SIM_EMALFORMED: the varint is longer than 5 bytes or overflows 32 bits. */
int sim_frame_peek(const uint8_t *p, size_t n, size_t max, size_t *hdr, size_t *body);

/* Called once per complete frame with its body (borrowed for the call). A non-zero return
 * stops the feed and is returned by sim_frame_reader_feed. */
typedef int (*sim_frame_cb)(void *arg, const uint8_t *body, size_t len);

/* Reassembles frames from a byte stream. While nothing is pending, complete frames are handed
 * out straight from the input and only a trailing partial frame is copied into pending; while a
 * partial frame waits, each read is appended to pending and the frames are handed out from
 * there. pending is freed when it empties after growing above 4 KiB. */
struct sim_frame_reader {
  struct sim_buf pending;
  size_t max;
};

void sim_frame_reader_init(struct sim_frame_reader *r, size_t max);
void sim_frame_reader_fini(struct sim_frame_reader *r);
/* Feeds n bytes. Returns 0, a framing error (SIM_ETOOBIG, SIM_EMALFORMED, SIM_ENOMEM) or the
 * callback's error. After an error the reader is in an undefined position: close the peer. */
int sim_frame_reader_feed(struct sim_frame_reader *r, const uint8_t *p, size_t n, sim_frame_cb cb,
                          void *arg);

#endif
