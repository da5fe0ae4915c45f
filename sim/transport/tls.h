/* The tls transport: TLS 1.2 and 1.3 (OpenSSL) over an inner tcp transport, under the same
 * ops table and contract as every transport (transport.h), so that any protocol running over
 * a transport gets TLS without knowing it.
 *
 * libuv keeps the sockets: OpenSSL reads and writes through a BIO of ours that hands bytes to
 * and from the inner tcp connection, never to a file descriptor.
 *
 * Connecting: connect_cb runs once the handshake is complete (status 0) or has failed (status
 * SIM_ETLS_*, no closed_cb follows, as for a failed tcp connect). The server's certificate is
 * verified against cfg->ca_file (or the system's trust store without one), and its name must
 * match the host of the address connected to (an IP literal is matched against the
 * certificate's IP addresses, a name against its DNS names). cfg->insecure turns both checks
 * off; sim_transport_tls_info() reports it so that a summary can say so.
 *
 * Resuming: the client keeps the session (a TLS ticket) of the last connection made with each
 * owner's user pointer, and offers it when that pointer connects again, so an owner that keeps
 * one user pointer per identity (a hub) resumes as a real device would after a drop. The
 * server issues one ticket per full handshake. Counted apart: full and resumed handshakes and
 * their durations.
 *
 * Accepting: the accept callback runs only for a connection whose handshake is complete; a
 * failed handshake is counted and logged here and the owner never sees the connection.
 *
 * Every failed handshake is counted by reason (sim_tls_stats); the last message of each reason
 * is kept, naming the peer and what went wrong ("certificate has expired", "the peer sent
 * plaintext, not a TLS ClientHello").
 *
 * Threading: one loop, as every transport. */
#ifndef SIM_TRANSPORT_TLS_H
#define SIM_TRANSPORT_TLS_H

#include <stdint.h>
#include <uv.h>

#include "sim/core/hist.h"

#include "sim/transport/transport.h"

struct sim_tls_config {
  /* Client side. ca_file: PEM trust anchors; NULL uses OpenSSL's default paths. insecure:
   * no certificate or name check at all (the handshake still encrypts). */
  const char *ca_file;
  int insecure;
  /* Server side (needed to listen): PEM certificate chain and private key. The key file is
   * read with the secret-file rules of sim/core/keyfile.h (not readable by other users). */
  const char *cert_file;
  const char *key_file;
  /* A handshake not complete after this long fails with SIM_ETLS_TIMEOUT; 0: 10 seconds. */
  uint32_t handshake_timeout_ms;
};

/* Handshake failures by reason; each is also a SIM_ETLS_* code (sim_errname names it). */
enum sim_tls_reason {
  SIM_TLS_R_VERIFY,   /* the peer's certificate or name did not verify */
  SIM_TLS_R_PROTOCOL, /* version, cipher, alert, a peer that closed mid-handshake */
  SIM_TLS_R_TIMEOUT,  /* no complete handshake within the timeout */
  SIM_TLS_R_NOT_TLS,  /* the peer sent plaintext (a hubrpc:// client on a TLS port) */
  SIM_TLS_R_COUNT
};

struct sim_tls_stats {
  uint64_t handshakes; /* completed: full + resumed */
  uint64_t resumed;    /* of those, resumed from a session (a ticket) */
  /* Durations in microseconds, from the start of the handshake (after the TCP connect, or the
   * accept) to its end as this side sees it. */
  struct sim_hist full_us, resumed_us;
  uint64_t failed[SIM_TLS_R_COUNT];
  /* The last failure's message per reason ("" if none); NUL-terminated. */
  char last[SIM_TLS_R_COUNT][200];
};

/* Creates a tls transport on loop. The files are read now: a missing or unreadable file, a
 * key that does not match the certificate, a key file readable by other users each fail with
 * a negative code and *why set to a sentence naming the file (static storage; NULL on
 * success). cfg is copied; its strings are borrowed only during the call. */
int sim_transport_tls_new(uv_loop_t *loop, const struct sim_tls_config *cfg,
                          struct sim_transport **out, const char **why);
/* Copies the counters of a tls transport into *out. */
void sim_transport_tls_stats(const struct sim_transport *t, struct sim_tls_stats *out);
/* Adds src's counts and durations into dst exactly (the histograms merge bucket by bucket); a
 * last message of src fills a reason dst has none for. For the counts of several processes. */
void sim_tls_stats_merge(struct sim_tls_stats *dst, const struct sim_tls_stats *src);
/* 1 when t is a tls transport (a caller holding a plain struct sim_transport * asks). */
int sim_transport_is_tls(const struct sim_transport *t);
/* The short name of a reason ("verify", "protocol", "timeout", "not_tls"). */
const char *sim_tls_reason_name(enum sim_tls_reason r);

#endif
