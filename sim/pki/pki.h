/* Certificates and keys for TLS identities: a certificate authority that issues hub (client)
 * and platform (server) certificates, with their private keys, as PEM text. `hubsim provision`
 * writes a fleet's identities with it; tests build the certificates they need (expired, not
 * yet valid, the wrong key usage) with the same calls.
 *
 * Keys are ECDSA P-256 (the default: a key takes tens of microseconds to make) or RSA 2048
 * (tens of milliseconds each: for small fleets and for platforms that need RSA). Every
 * certificate is X.509 v3, signed with SHA-256, with a random positive 127-bit serial number,
 * and carries its subject and authority key identifiers.
 *
 *   CA      basicConstraints critical CA:TRUE, pathlen:0; keyUsage critical keyCertSign, cRLSign
 *   CLIENT  basicConstraints CA:FALSE; keyUsage critical digitalSignature; extendedKeyUsage
 *           clientAuth
 *   SERVER  basicConstraints CA:FALSE; keyUsage critical digitalSignature (and keyEncipherment
 *           for RSA); extendedKeyUsage serverAuth
 *
 * Ownership: struct sim_pki_cert is the caller's; its PEM strings are allocated by the issuing
 * call and freed by sim_pki_cert_fini(). An issuer is made by sim_pki_ca_new() and freed by
 * sim_pki_issuer_free(). Threading: an issuer keeps key-generation state; use one from one
 * thread at a time (sim_pki_issuer_dup() gives each thread its own). Blocking (CPU only); no I/O.
 */
#ifndef SIM_PKI_PKI_H
#define SIM_PKI_PKI_H

#include <stddef.h>
#include <stdint.h>

enum sim_pki_key_type { SIM_PKI_KEY_EC_P256 = 0, SIM_PKI_KEY_RSA_2048 = 1 };
enum sim_pki_role { SIM_PKI_CA = 0, SIM_PKI_CLIENT = 1, SIM_PKI_SERVER = 2 };

#define SIM_PKI_MAX_SAN 8 /* DNS names and IP addresses, each */

/* What a certificate says. Strings are borrowed for the call. */
struct sim_pki_req {
  enum sim_pki_role role;
  enum sim_pki_key_type key_type;
  const char *cn;      /* subject common name (UTF-8), required */
  const char *san_uri; /* a subjectAltName URI; NULL: none */
  const char *san_dns[SIM_PKI_MAX_SAN];
  size_t n_dns;
  const char *san_ip[SIM_PKI_MAX_SAN]; /* IPv4 or IPv6 text */
  size_t n_ip;
  int64_t not_before; /* Unix seconds */
  int64_t not_after;
};

/* A certificate and its private key (unencrypted PKCS#8), PEM, each NUL-terminated. */
struct sim_pki_cert {
  char *cert_pem;
  size_t cert_len;
  char *key_pem;
  size_t key_len;
  uint8_t sha256[32]; /* SHA-256 of the DER certificate: its fingerprint */
};

struct sim_pki_issuer;

/* A new CA: a key of req->key_type and a self-signed certificate (req->role must be
 * SIM_PKI_CA). *out (freed by sim_pki_issuer_free) and *pem (sim_pki_cert_fini) are written only
 * on success. 0, SIM_EINVAL (a bad request: no CN, a bad IP text, not_after before
 * not_before), SIM_ENOMEM or SIM_EIO (libcrypto failed). */
int sim_pki_ca_new(const struct sim_pki_req *req, struct sim_pki_issuer **out,
                   struct sim_pki_cert *pem);
/* A new key and a certificate for it that ca signs (req->role CLIENT or SERVER). The same
 * errors as sim_pki_ca_new(); *out is written only on success. */
int sim_pki_issue(struct sim_pki_issuer *ca, const struct sim_pki_req *req,
                  struct sim_pki_cert *out);
/* A second issuer of the same CA (its key and certificate shared, counted by libcrypto) with
 * key-generation state of its own, for another thread: issuers of one CA may sign at the same
 * time. 0 or SIM_ENOMEM; *out written only on success. */
int sim_pki_issuer_dup(const struct sim_pki_issuer *ca, struct sim_pki_issuer **out);
void sim_pki_cert_fini(struct sim_pki_cert *c);
void sim_pki_issuer_free(struct sim_pki_issuer *ca);

#endif
