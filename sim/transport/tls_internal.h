/* Internal to sim/transport: what tls.c and tls_id.c share. Not for use outside this folder. */
#ifndef SIM_TRANSPORT_TLS_INTERNAL_H
#define SIM_TRANSPORT_TLS_INTERNAL_H

#include <stddef.h>

#include <openssl/x509.h>

/* A client certificate and its key, each holding one reference; an SSL object that uses them
 * takes references of its own. */
struct sim_tls_identity {
  X509 *cert;
  EVP_PKEY *key;
};

/* The hub id a certificate names: its subject's CN, which any SAN URI urn:hubsim:hub:ID must
 * repeat. 0 with out set (NUL-terminated), or SIM_EINVAL (no CN, too long for cap, a NUL in
 * it, or a SAN URI naming another hub). */
int sim_tls_cert_hub_id(X509 *cert, char *out, size_t cap);

#endif
