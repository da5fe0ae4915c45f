/* Per-hub identity over TLS: a client certificate and its key for the connecting side, and the
 * hub id a verified client certificate names for the accepting side (see tls.h).
 *
 * The hub id of a certificate is its subject's CN, as docs/provision.md writes it; a SAN URI
 * urn:hubsim:hub:ID, when present, must name the same hub, so that a verifier reading either
 * field reaches the same answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sim/core/err.h"
#include "sim/core/keyfile.h"
#include "sim/transport/internal.h"
#include "sim/transport/tls.h"
#include "sim/transport/tls_internal.h"

#define TLS_ID_KEY_MAX (64 * 1024)
#define TLS_ID_URI_PREFIX "urn:hubsim:hub:"

const char *sim__tls_why(const char *what, const char *file) {
  static char why[512];
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  snprintf(why, sizeof why, "%s '%s'%s%s", what, file, r ? ": " : "", r ? r : "");
  ERR_clear_error();
  return why;
}

EVP_PKEY *sim__tls_read_key(const char *file, const char **why, int *rc) {
  uint8_t *key = malloc(TLS_ID_KEY_MAX);
  size_t klen = 0;
  EVP_PKEY *pk = NULL;
  BIO *mb = NULL;
  const char *kwhy = NULL;
  *rc = SIM_ENOMEM;
  if (!key)
    return NULL;
  if ((*rc = sim_keyfile_read(file, key, TLS_ID_KEY_MAX, &klen, &kwhy))) {
    static char buf[512];
    snprintf(buf, sizeof buf, "key file '%s' %s", file, kwhy ? kwhy : "cannot be read");
    *why = buf;
    goto done;
  }
  *rc = SIM_EINVAL;
  if (!(mb = BIO_new_mem_buf(key, (int)klen)) ||
      !(pk = PEM_read_bio_PrivateKey(mb, NULL, NULL, (void *)""))) {
    *why = sim__tls_why("no PEM private key in", file);
    goto done;
  }
  *rc = 0;
done:
  BIO_free(mb);
  OPENSSL_cleanse(key, TLS_ID_KEY_MAX);
  free(key);
  return pk;
}

int sim_tls_identity_load(const char *cert_file, const char *key_file,
                          struct sim_tls_identity **out, const char **why) {
  *why = NULL;
  struct sim_tls_identity *id = calloc(1, sizeof *id);
  if (!id)
    return SIM_ENOMEM;
  int rc = SIM_EINVAL;
  BIO *b = BIO_new_file(cert_file, "r");
  if (!b || !(id->cert = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
    *why = sim__tls_why("cannot read a PEM certificate from", cert_file);
    goto fail;
  }
  if (!(id->key = sim__tls_read_key(key_file, why, &rc)))
    goto fail;
  if (X509_check_private_key(id->cert, id->key) != 1) {
    *why = sim__tls_why("the key does not match its certificate: key file", key_file);
    rc = SIM_EINVAL;
    goto fail;
  }
  BIO_free(b);
  *out = id;
  return 0;
fail:
  BIO_free(b);
  sim_tls_identity_free(id);
  return rc;
}

void sim_tls_identity_free(struct sim_tls_identity *id) {
  if (!id)
    return;
  X509_free(id->cert);
  EVP_PKEY_free(id->key);
  free(id);
}

/* The SAN URIs of the hubsim scheme must all name id: 0, or SIM_EINVAL. */
static int tls_id_san_agrees(X509 *cert, const char *id) {
  GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  int rc = 0;
  size_t plen = strlen(TLS_ID_URI_PREFIX);
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
    if (g->type != GEN_URI)
      continue;
    const char *u = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
    size_t ulen = (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier);
    if (ulen < plen || memcmp(u, TLS_ID_URI_PREFIX, plen) != 0)
      continue;
    if (ulen - plen != strlen(id) || memcmp(u + plen, id, ulen - plen) != 0)
      rc = SIM_EINVAL;
  }
  GENERAL_NAMES_free(names);
  return rc;
}

int sim_tls_cert_hub_id(X509 *cert, char *out, size_t cap) {
  X509_NAME *subj = X509_get_subject_name(cert);
  int i = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
  if (i < 0)
    return SIM_EINVAL;
  ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
  int n = ASN1_STRING_length(cn);
  const unsigned char *p = ASN1_STRING_get0_data(cn);
  if (n <= 0 || (size_t)n >= cap || memchr(p, 0, (size_t)n))
    return SIM_EINVAL;
  memcpy(out, p, (size_t)n);
  out[n] = 0;
  return tls_id_san_agrees(cert, out);
}
