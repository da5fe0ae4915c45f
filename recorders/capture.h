/* Traffic capture (`hubsim run --record FILE.pcapng`): the bytes each hub exchanges with the
 * platform (or, on an MQTT run, with the broker), written as pcapng that Wireshark and tshark
 * open. docs/recorders.md describes the file and why it is made this way.
 *
 * Where the bytes come from: rec_capture_wrap() returns a transport that sits on top of the
 * hubs' own (tcp, tls, mem, or the tcp/tls under the MQTT stream) and hands every call through.
 * A connection of a hub that is recorded is wrapped: what the owner sends (once the transport
 * below took it) and what arrives (before the owner sees it) is appended to the capture. A
 * connection that is not recorded (a hub outside --record-hubs, an owner the capture cannot
 * name) is the transport's own, unwrapped: it costs nothing. Without --record nothing of this
 * exists and the bytes on the wire are the same either way.
 *
 * Each connection becomes one synthesised IPv4/TCP conversation (SYN, data, FIN or RST), hub
 * number g at 10.x.y.z (g + 1 in the low 24 bits), a new client port per connection, so that
 * Wireshark's "Follow TCP Stream" and its conversation table show one hub's session each.
 *
 * Crash safety: blocks are collected in memory and written by one write() on an O_APPEND file
 * descriptor once 64 KiB are waiting or 200 ms (run clock) passed since the last write; a write
 * holds whole blocks only, so a run killed at any moment leaves a file whose every block up to
 * the last write is whole. --record-limit stops recording before a block would take the file
 * beyond the limit (truncated is then set and stderr says so once).
 *
 * Threading: a capture and its transport belong to the loop thread of the transport below. */
#ifndef REC_CAPTURE_H
#define REC_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "sim/transport/transport.h"

#define REC_CAPTURE_MAX_RANGES 64

/* Which hubs (global hub numbers) are recorded: n == 0 means all. */
struct rec_capture_hubs {
  size_t n;
  struct {
    uint32_t lo, hi; /* inclusive */
  } r[REC_CAPTURE_MAX_RANGES];
};

/* Parses "0-9,20,30-39" (hub numbers, inclusive ranges, at most 64 parts). 0, or SIM_EINVAL
 * with a sentence in why (cap bytes); *out is written only on success. */
int rec_capture_hubs_parse(const char *text, struct rec_capture_hubs *out, char *why, size_t cap);
/* 1 when hub g is recorded under f. */
int rec_capture_hubs_has(const struct rec_capture_hubs *f, uint32_t g);

struct rec_capture_config {
  const char *path;             /* the file: created or truncated, never through a link */
  uint64_t limit;               /* most bytes the file may hold (0: no limit) */
  struct rec_capture_hubs hubs; /* --record-hubs */
  /* The hub that owns a connection, from the user pointer of its connect: its global number
   * and its id (NUL-terminated in id, cap bytes). 0, or < 0: not a hub (not recorded). */
  int (*hub_of)(void *ctx, void *user, uint32_t *global, char *id, size_t cap);
  /* The run clock as Unix time in microseconds (virtual or real). */
  uint64_t (*now_us)(void *ctx);
  void *ctx;
  uint32_t server_ip;   /* the server side of the synthesised conversations, host order */
  uint16_t server_port; /* (an MQTT run uses 1883, the port Wireshark decodes as MQTT) */
  const char *comment;  /* what the section header says of the run (borrowed; may be NULL) */
};

/* The figures of the summary's "record" key (docs/summary.md). */
struct rec_capture_info {
  const char *path;
  uint64_t frames;  /* packet blocks written: one per send or arrival (plus SYN/FIN/RST) */
  uint64_t payload; /* bytes of the hubs' traffic in them */
  uint64_t bytes;   /* size of the file */
  int truncated;    /* --record-limit stopped the recording */
  uint64_t dropped; /* packets not written after it stopped */
  int write_error;  /* a write failed (errno in the message on stderr); recording stopped */
};

struct rec_capture;

/* Creates the file and writes its section header and interface (one write). 0, or < 0 with a
 * sentence in why (cap bytes). cfg is copied (path and comment must outlive the capture). */
int rec_capture_open(const struct rec_capture_config *cfg, struct rec_capture **out, char *why,
                     size_t cap);
/* A transport over inner that records the hubs' connections. inner stays the caller's; the
 * result belongs to cap: rec_capture_close() frees it (never sim_transport_free()), after every
 * connection made through it is closed. */
int rec_capture_wrap(struct rec_capture *cap, struct sim_transport *inner,
                     struct sim_transport **out);
/* The owner's user pointer of a wrapped connection, for a callback of the transport below that
 * receives the wrapper's (tls identities); any other pointer comes back as it is. */
void *rec_capture_user(const struct rec_capture *cap, void *user);
/* Writes what is collected (one write). A real-clock run calls it every 200 ms of real time
 * (app/run.c), so that blocks do not wait in memory through a quiet stretch. */
void rec_capture_flush(struct rec_capture *cap);
void rec_capture_info(const struct rec_capture *cap, struct rec_capture_info *out);
/* Flushes, syncs and closes the file; frees the capture (its transports must be freed). 0, or
 * a negative errno when the last write or the sync failed. NULL is a no-op. */
int rec_capture_close(struct rec_capture *cap);

/* The human summary's "record" line and the JSON summary's "record" object (docs/summary.md);
 * the object is the caller's (a new reference). */
void rec_capture_print(FILE *out, const struct rec_capture_info *ri);
json_t *rec_capture_json(const struct rec_capture_info *ri);

/* ---- internal to recorders/capture*.c ---- */

/* One synthesised TCP conversation. */
struct rec__flow {
  uint32_t cip, sip;
  uint16_t cport, sport;
  uint32_t cseq, sseq; /* next sequence number of each side */
};
enum { REC__UP = 0, REC__DOWN = 1 };
#define REC__SYN 0x02u
#define REC__RST 0x04u
#define REC__PSH 0x08u
#define REC__ACK 0x10u
#define REC__FIN 0x01u
/* Starts a conversation for hub g (a new client port per call). */
void rec__flow_init(struct rec_capture *cap, struct rec__flow *fl, uint32_t g);
/* Appends the packets of p (split into segments) from dir, or a bare segment with flags. */
void rec__flow_data(struct rec_capture *cap, struct rec__flow *fl, int dir, const void *p,
                    size_t n);
void rec__flow_ctl(struct rec_capture *cap, struct rec__flow *fl, int dir, unsigned flags);
/* The SYN of a new conversation, with the hub's id as the packet's comment. */
void rec__flow_syn(struct rec_capture *cap, struct rec__flow *fl, const char *hub_id);
/* The global number and id of the hub that owns user, when it is recorded; else SIM_ENOTFOUND. */
int rec__capture_hub_of(struct rec_capture *cap, void *user, uint32_t *g, char *id, size_t n);
/* The wrapped connections, by address (capture_tap.c keeps it). */
struct sim_htab *rec__capture_conns(struct rec_capture *cap);
/* The head of the capture's list of taps, and their release (with connections left over). */
void **rec__capture_taps(struct rec_capture *cap);
void rec__capture_taps_free(struct rec_capture *cap);

#endif
