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
 * Mutual TLS: a listener given client_ca_file asks for client certificates and verifies them
 * (sim_tls_conn_peer_hub() reads the hub id of one that verified); a connector given an
 * identity callback presents the certificate it returns. A client certificate the server
 * refused is a SIM_TLS_R_VERIFY failure on both sides, named by the server's alert on the
 * client's ("the platform refused our client certificate: ... certificate expired"); with TLS
 * 1.3 the client learns it after its handshake ended, as the first read fails.
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
  /* Server side, mutual TLS: client_ca_file: PEM CA certificates a client certificate must
   * chain to. With it the server asks every client for a certificate; a client that sends none
   * still connects (its owner then authenticates it otherwise), one that sends a certificate
   * that does not verify (unknown CA, expired, not for client authentication) is refused in
   * the handshake. crl_file: PEM certificate revocation lists of that CA, checked for the
   * client's certificate (X509_V_FLAG_CRL_CHECK); needs client_ca_file. */
  const char *client_ca_file;
  const char *crl_file;
  /* Client side, mutual TLS: called on each connect with the connect's user pointer; the
   * identity it returns (borrowed; it must outlive the connection) is presented as the client
   * certificate, NULL presents none. */
  const struct sim_tls_identity *(*identity)(void *ctx, void *user);
  void *identity_ctx;
  /* A handshake not complete after this long fails with SIM_ETLS_TIMEOUT; 0: 10 seconds. */
  uint32_t handshake_timeout_ms;
};

/* A client certificate and its key, loaded once (an opaque handle). */
struct sim_tls_identity;

/* Reads a PEM certificate and its PEM private key (the key under the secret-file rules of
 * sim/core/keyfile.h) and checks that they match. A failure returns a negative code with *why
 * a sentence naming the file (static storage). The caller owns *out. */
int sim_tls_identity_load(const char *cert_file, const char *key_file,
                          struct sim_tls_identity **out, const char **why);
void sim_tls_identity_free(struct sim_tls_identity *id);

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
/* Accepted connections of t still in their TLS handshake (0 when t is not a tls transport):
 * what its owner has not seen yet (the accept callback runs after the handshake). */
size_t sim_transport_tls_handshaking(const struct sim_transport *t);
/* Closes the oldest accepted connection of t still in its handshake, at once (its owner never
 * saw it, so no callback runs). 1 when one was closed, 0 when there was none. */
int sim_transport_tls_evict_oldest(struct sim_transport *t);
/* Server side: admit(ctx) runs on every TCP connection accepted, before its handshake starts;
 * it may call sim_transport_tls_evict_oldest() to make room, and returns non-zero to close the
 * new connection instead. So an owner bounds the connections still in their TLS handshake
 * together with its own unauthenticated ones (a peer that opens many and never finishes its
 * handshake). NULL (the default) admits every connection. No effect on another transport. */
void sim_transport_tls_set_admit(struct sim_transport *t, int (*admit)(void *ctx), void *ctx);
/* 1 when t is a tls transport (a caller holding a plain struct sim_transport * asks). */
int sim_transport_is_tls(const struct sim_transport *t);
/* The hub id of the verified client certificate of an accepted tls connection c (see
 * tls_internal.h for the rule: the subject's CN, repeated by any SAN URI urn:hubsim:hub:ID).
 * 1 with out set, 0 when c presented no certificate or is not a tls connection, SIM_EINVAL
 * when the certificate names no usable hub id. */
int sim_tls_conn_peer_hub(const struct sim_conn *c, char *out, size_t cap);
/* The short name of a reason ("verify", "protocol", "timeout", "not_tls"). */
const char *sim_tls_reason_name(enum sim_tls_reason r);

#endif
