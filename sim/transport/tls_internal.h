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

/* A sentence "WHAT 'FILE': OpenSSL's last reason", in static storage; clears OpenSSL's error
 * queue. */
const char *sim__tls_why(const char *what, const char *file);
/* A PEM private key from file, read under the secret-file rules of sim/core/keyfile.h (the
 * bytes wiped after parsing). The caller owns the key; NULL with *rc and *why set (static
 * storage, naming the file). */
EVP_PKEY *sim__tls_read_key(const char *file, const char **why, int *rc);

/* The hub id a certificate names: its subject's CN, which any SAN URI urn:hubsim:hub:ID must
 * repeat. 0 with out set (NUL-terminated), or SIM_EINVAL (no CN, too long for cap, a NUL in
 * it, or a SAN URI naming another hub). */
int sim_tls_cert_hub_id(X509 *cert, char *out, size_t cap);

#endif
