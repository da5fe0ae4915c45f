/* Reading back a capture of `hubsim run --record` (recorders/capture.c writes it): the pcapng
 * blocks, the synthesised IPv4/TCP conversations (one per hub connection), each side's byte
 * stream put back together, and the hubrpc frames of a stream with the time each was captured.
 * `hubsim replay` (app/replay.c) is its user; docs/recorders.md section 8 describes both.
 *
 * The file is input from outside: every length is checked against the bytes there are and
 * against REC_CAPREAD_BLOCK_MAX, and nothing in it trips an assert. A file that ends inside a
 * block (a killed run, a cut copy) is read up to its last whole block and says so (truncated,
 * with the offset); bytes that are not such a capture are an error naming the byte offset.
 *
 * Threading: none; a read capture is plain memory owned by the caller. */
#ifndef REC_CAPTURE_READ_H
#define REC_CAPTURE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "sim/core/buf.h"

/* Largest block accepted. hubsim's largest is an Enhanced Packet Block of one 65,000-byte
 * segment with 40 bytes of headers and a comment of at most 256 bytes: about 66 KiB. */
#define REC_CAPREAD_BLOCK_MAX (128u * 1024u)
/* Largest file read (it is read into memory whole). */
#define REC_CAPREAD_FILE_MAX (1024ull * 1024u * 1024u)

/* Where each run of bytes of a stream was captured: bytes from off on came in a packet of time
 * us (Unix time in microseconds, the run clock of the capture). */
struct rec_capread_mark {
  uint64_t off;
  uint64_t us;
};

/* One side of a connection, its bytes in order. gap: a segment was missing (a packet the
 * writer dropped at --record-limit, or a cut file); the stream holds the bytes before it. */
struct rec_capread_stream {
  struct sim_buf bytes;
  const struct rec_capread_mark *marks; /* n_marks of them, in mark_buf */
  size_t n_marks;
  struct sim_buf mark_buf;
  uint32_t next_seq; /* the TCP sequence number the next byte must carry */
  int gap;
};

enum { REC_CAPREAD_UP = 0, REC_CAPREAD_DOWN = 1 };

/* One synthesised TCP conversation: one connection of one hub. */
struct rec_capread_conn {
  uint32_t hub;      /* the hub's global number, from its address 10.x.y.z (g + 1) */
  char hub_id[65];   /* the SYN's packet comment: the hub's id ("" when the SYN is missing) */
  uint32_t cip, sip; /* client (hub) and server addresses, host order */
  uint16_t cport, sport;
  uint64_t start_us;                /* the first packet's time */
  int closed;                       /* a FIN or RST was seen */
  struct rec_capread_stream dir[2]; /* REC_CAPREAD_UP: hub -> platform */
};

struct rec_capread {
  struct rec_capread_conn **conns; /* n_conns, in the order their first packet appears */
  size_t n_conns;
  struct sim_buf conn_buf; /* holds conns */
  uint64_t blocks;         /* whole blocks read */
  uint64_t packets;        /* Enhanced Packet Blocks */
  uint64_t size;           /* bytes of the file */
  int truncated;           /* the file ends inside a block */
  uint64_t end_off;        /* offset of the end of the last whole block */
  char comment[257];       /* the section header's comment (what the run was) */
};

/* Reads the capture at path. 0 with *out (free with rec_capread_free), or < 0 with a sentence
 * in why (cap bytes) that names the file and, for bad bytes, the offset: SIM_EIO (cannot read
 * it), SIM_ETOOBIG (above REC_CAPREAD_FILE_MAX), SIM_EMALFORMED (not such a capture),
 * SIM_ENOMEM. A truncated file is a success with (*out)->truncated set. */
int rec_capread_file(const char *path, struct rec_capread **out, char *why, size_t cap);
/* The same over n bytes in memory; name is what why calls them. */
int rec_capread_mem(const uint8_t *p, size_t n, const char *name, struct rec_capread **out,
                    char *why, size_t cap);
void rec_capread_free(struct rec_capread *r);

/* One hubrpc frame of a stream: the Envelope's bytes (borrowed from the stream) and the time the
 * packet holding its first byte was captured. */
struct rec_capread_frame {
  const uint8_t *body;
  size_t len;
  uint64_t us;
  uint64_t off; /* where the frame starts in the stream */
};

/* Splits stream s into frames with the wire framing of sim/wire/frame.h, calling cb for each
 * (a non-zero return stops and is returned). A partial frame at the end is not a frame: *tail
 * gets its byte count. SIM_ETOOBIG / SIM_EMALFORMED: the framing is broken at *bad_off. */
int rec_capread_frames(const struct rec_capread_stream *s,
                       int (*cb)(void *arg, const struct rec_capread_frame *fr), void *arg,
                       size_t *tail, uint64_t *bad_off);

#endif
