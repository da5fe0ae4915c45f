/* Certificates and keys with libcrypto: see pki.h.
 *
 * Speed matters here: `hubsim provision` makes 100,000 identities in seconds. A P-256 key and a
 * signature each cost tens of microseconds; what would cost more is setting up libcrypto's
 * machinery per certificate, so the issuer keeps one key-generation context per key type and
 * the CA's certificate and key for every signature. Extensions whose values are fixed text go
 * through the v3 configuration parser; the subject's names (which come from a fleet's prefix
 * or a flag) are built as GENERAL_NAMEs, never parsed, so a ',' in a name cannot add one. */
#include "sim/pki/pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

struct sim_pki_issuer {
  EVP_PKEY *key;
  X509 *cert;
  EVP_PKEY_CTX *gen[2]; /* by enum sim_pki_key_type; made on first use */
};

/* A new key of type t from the issuer's context for it (created once). */
static int new_key(EVP_PKEY_CTX **slot, enum sim_pki_key_type t, EVP_PKEY **out) {
  if (!*slot) {
    EVP_PKEY_CTX *c =
        EVP_PKEY_CTX_new_id(t == SIM_PKI_KEY_RSA_2048 ? EVP_PKEY_RSA : EVP_PKEY_EC, NULL);
    if (!c)
      return SIM_ENOMEM;
    int ok = EVP_PKEY_keygen_init(c) > 0 &&
             (t == SIM_PKI_KEY_RSA_2048
                  ? EVP_PKEY_CTX_set_rsa_keygen_bits(c, 2048) > 0
                  : EVP_PKEY_CTX_set_ec_paramgen_curve_nid(c, NID_X9_62_prime256v1) > 0);
    if (!ok) {
      EVP_PKEY_CTX_free(c);
      return SIM_EIO;
    }
    *slot = c;
  }
  *out = NULL;
  return EVP_PKEY_keygen(*slot, out) > 0 ? 0 : SIM_EIO;
}

/* A random positive serial number of 127 bits (RFC 5280: at most 20 octets, unpredictable). */
static int set_serial(X509 *x) {
  unsigned char r[16];
  if (RAND_bytes(r, sizeof r) != 1)
    return SIM_EIO;
  r[0] &= 0x7F;
  r[0] |= 0x40; /* never a short number */
  BIGNUM *bn = BN_bin2bn(r, sizeof r, NULL);
  int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  return ok ? 0 : SIM_EIO;
}

/* One extension from its configuration text ("critical,digitalSignature"). */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
  if (!e)
    return SIM_EIO;
  int ok = X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  return ok ? 0 : SIM_EIO;
}

/* One GENERAL_NAME of type (GEN_URI, GEN_DNS: IA5 text; GEN_IPADD: address bytes) pushed on
 * gens. */
static int push_name(GENERAL_NAMES *gens, int type, const void *p, int len) {
  GENERAL_NAME *g = GENERAL_NAME_new();
  ASN1_STRING *s = ASN1_STRING_type_new(type == GEN_IPADD ? V_ASN1_OCTET_STRING : V_ASN1_IA5STRING);
  if (!g || !s || !ASN1_STRING_set(s, p, len)) {
    GENERAL_NAME_free(g);
    ASN1_STRING_free(s);
    return SIM_ENOMEM;
  }
  GENERAL_NAME_set0_value(g, type, s);
  if (!sk_GENERAL_NAME_push(gens, g)) {
    GENERAL_NAME_free(g);
    return SIM_ENOMEM;
  }
  return 0;
}

/* subjectAltName from the request's URI, DNS names and IP addresses (none: no extension). */
static int add_san(X509 *x, const struct sim_pki_req *req) {
  if (!req->san_uri && !req->n_dns && !req->n_ip)
    return 0;
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
  if (!gens)
    return SIM_ENOMEM;
  int rc = 0;
  if (req->san_uri)
    rc = push_name(gens, GEN_URI, req->san_uri, (int)strlen(req->san_uri));
  for (size_t i = 0; rc == 0 && i < req->n_dns; i++)
    rc = push_name(gens, GEN_DNS, req->san_dns[i], (int)strlen(req->san_dns[i]));
  for (size_t i = 0; rc == 0 && i < req->n_ip; i++) {
    unsigned char a[16];
    if (inet_pton(AF_INET, req->san_ip[i], a) == 1)
      rc = push_name(gens, GEN_IPADD, a, 4);
    else if (inet_pton(AF_INET6, req->san_ip[i], a) == 1)
      rc = push_name(gens, GEN_IPADD, a, 16);
    else
      rc = SIM_EINVAL;
  }
  if (rc == 0 && !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT))
    rc = SIM_EIO;
  GENERAL_NAMES_free(gens);
  return rc;
}

/* The extensions of req->role; ctx names issuer and subject (the same for a CA). */
static int add_role_exts(X509 *x, X509V3_CTX *ctx, const struct sim_pki_req *req) {
  const char *bc = "CA:FALSE", *ku = "critical,digitalSignature", *eku;
  switch (req->role) {
  case SIM_PKI_CA:
    bc = "critical,CA:TRUE,pathlen:0";
    ku = "critical,keyCertSign,cRLSign";
    eku = NULL;
    break;
  case SIM_PKI_CLIENT:
    eku = "clientAuth";
    break;
  case SIM_PKI_SERVER:
    /* RSA key exchange (TLS 1.2's RSA suites) encrypts to the server's key. */
    if (req->key_type == SIM_PKI_KEY_RSA_2048)
      ku = "critical,digitalSignature,keyEncipherment";
    eku = "serverAuth";
    break;
  default:
    return SIM_EINVAL;
  }
  int rc = add_ext(x, ctx, NID_basic_constraints, bc);
  if (rc == 0)
    rc = add_ext(x, ctx, NID_key_usage, ku);
  if (rc == 0 && eku)
    rc = add_ext(x, ctx, NID_ext_key_usage, eku);
  if (rc == 0)
    rc = add_ext(x, ctx, NID_subject_key_identifier, "hash");
  if (rc == 0)
    rc = add_ext(x, ctx, NID_authority_key_identifier, "keyid:always");
  return rc;
}

/* ---- P-256 without the encoder framework ----
 * OpenSSL 3.0 sets a certificate's public key (X509_set_pubkey) and writes a private key
 * (PEM_write_bio_PrivateKey) through its generic encoders and decoders: three quarters of the
 * time of a hub's identity went there, none to the cryptography. For P-256 both encodings are
 * fixed layouts, written here directly: the key's point goes into the certificate's
 * SubjectPublicKeyInfo as id-ecPublicKey/prime256v1, and the private key is PKCS#8 holding a
 * SEC1 ECPrivateKey with its public key, byte for byte what OpenSSL itself writes (the tests
 * read both back with the openssl tool and compare the public keys). RSA keeps the generic
 * path: its key generation costs a thousand times more than any encoding. */

/* The key's public point, uncompressed (04 || X || Y). */
static int ec_point(EVP_PKEY *key, unsigned char pub[65]) {
  size_t n = 0;
  if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, 65, &n) || n != 65 ||
      pub[0] != 0x04)
    return SIM_EIO;
  return 0;
}

static int ec_set_pubkey(X509 *x, const unsigned char pub[65]) {
  unsigned char *penc = OPENSSL_memdup(pub, 65);
  if (!penc)
    return SIM_ENOMEM;
  /* OBJ_nid2obj() gives the static table's objects: handing them over frees nothing. */
  if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                              V_ASN1_OBJECT, OBJ_nid2obj(NID_X9_62_prime256v1), penc, 65)) {
    OPENSSL_free(penc);
    return SIM_EIO;
  }
  return 0;
}

/* PKCS#8 of a P-256 key: this head, the 32-byte private scalar, the public key's tag, the
 * 65-byte point. */
static const unsigned char p8_head[36] = {0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06,
                                          0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                                          0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                                          0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20};
static const unsigned char p8_pub_tag[5] = {0xa1, 0x44, 0x03, 0x42, 0x00};
#define P8_LEN (36 + 32 + 5 + 65)

/* The PEM of key (PRIVATE KEY, 64 characters a line) into a new string. */
static int ec_key_pem(EVP_PKEY *key, const unsigned char pub[65], char **out, size_t *len) {
  static const char head[] = "-----BEGIN PRIVATE KEY-----\n",
                    tail[] = "-----END PRIVATE KEY-----\n";
  unsigned char der[P8_LEN];
  unsigned char b64[4 * ((P8_LEN + 2) / 3) + 1];
  BIGNUM *priv = NULL;
  int rc = SIM_EIO;
  if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) ||
      BN_bn2binpad(priv, der + 36, 32) != 32)
    goto done;
  memcpy(der, p8_head, sizeof p8_head);
  memcpy(der + 68, p8_pub_tag, sizeof p8_pub_tag);
  memcpy(der + 73, pub, 65);
  int n = EVP_EncodeBlock(b64, der, P8_LEN);
  size_t cap = sizeof head + (size_t)n + (size_t)n / 64 + 1 + sizeof tail;
  char *s = malloc(cap), *w = s;
  rc = SIM_ENOMEM;
  if (!s)
    goto done;
  memcpy(w, head, sizeof head - 1);
  w += sizeof head - 1;
  for (int i = 0; i < n; i += 64) {
    int k = n - i < 64 ? n - i : 64;
    memcpy(w, b64 + i, (size_t)k);
    w += k;
    *w++ = '\n';
  }
  memcpy(w, tail, sizeof tail); /* with its NUL */
  *len = (size_t)(w - s) + sizeof tail - 1;
  *out = s;
  rc = 0;
done:
  BN_clear_free(priv);
  OPENSSL_cleanse(der, sizeof der);
  OPENSSL_cleanse(b64, sizeof b64);
  return rc;
}

/* The certificate of key for req, signed by ca_key as ca_cert (NULL: self-signed). pub: the
 * key's P-256 point (NULL: any other key, through libcrypto's encoders). */
static int build_cert(const struct sim_pki_req *req, EVP_PKEY *key, const unsigned char *pub,
                      X509 *ca_cert, EVP_PKEY *ca_key, X509 **out) {
  if (!req->cn || !*req->cn || req->not_after < req->not_before || req->n_dns > SIM_PKI_MAX_SAN ||
      req->n_ip > SIM_PKI_MAX_SAN)
    return SIM_EINVAL;
  X509 *x = X509_new();
  if (!x)
    return SIM_ENOMEM;
  int rc = SIM_EIO;
  X509_NAME *name = X509_get_subject_name(x);
  if (!X509_set_version(x, 2) || set_serial(x) ||
      !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)req->not_before) ||
      !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)req->not_after) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)req->cn, -1, -1,
                                  0) ||
      !X509_set_issuer_name(x, ca_cert ? X509_get_subject_name(ca_cert) : name))
    goto fail;
  rc = pub ? ec_set_pubkey(x, pub) : X509_set_pubkey(x, key) ? 0 : SIM_EIO;
  if (rc)
    goto fail;
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert ? ca_cert : x, x, NULL, NULL, 0);
  rc = add_role_exts(x, &ctx, req);
  if (rc == 0)
    rc = add_san(x, req);
  if (rc)
    goto fail;
  if (X509_sign(x, ca_key ? ca_key : key, EVP_sha256()) <= 0) {
    rc = SIM_EIO;
    goto fail;
  }
  *out = x;
  return 0;
fail:
  X509_free(x);
  return rc;
}

/* The contents of a memory BIO as a new NUL-terminated string. */
static int bio_take(BIO *b, char **out, size_t *len) {
  char *p;
  long n = BIO_get_mem_data(b, &p);
  if (n <= 0)
    return SIM_EIO;
  char *s = malloc((size_t)n + 1);
  if (!s)
    return SIM_ENOMEM;
  memcpy(s, p, (size_t)n);
  s[n] = '\0';
  *out = s;
  *len = (size_t)n;
  return 0;
}

/* PEM of x and key, and x's fingerprint, into out. pub: as for build_cert(). */
static int to_pem(X509 *x, EVP_PKEY *key, const unsigned char *pub, struct sim_pki_cert *out) {
  struct sim_pki_cert c = {0};
  unsigned int n = sizeof c.sha256;
  BIO *bc = BIO_new(BIO_s_mem()), *bk = BIO_new(BIO_s_mem());
  int rc = SIM_ENOMEM;
  if (!bc || !bk)
    goto done;
  rc = SIM_EIO;
  if (!PEM_write_bio_X509(bc, x) || !X509_digest(x, EVP_sha256(), c.sha256, &n) ||
      (!pub && !PEM_write_bio_PrivateKey(bk, key, NULL, NULL, 0, NULL, NULL)))
    goto done;
  rc = bio_take(bc, &c.cert_pem, &c.cert_len);
  if (rc == 0)
    rc = pub ? ec_key_pem(key, pub, &c.key_pem, &c.key_len) : bio_take(bk, &c.key_pem, &c.key_len);
  if (rc == 0)
    *out = c;
  else
    sim_pki_cert_fini(&c);
done:
  BIO_free(bc);
  /* The key's PEM passed through this buffer: clear it before it goes back to the heap. */
  if (bk) {
    char *p;
    long kn = BIO_get_mem_data(bk, &p);
    if (kn > 0)
      OPENSSL_cleanse(p, (size_t)kn);
    BIO_free(bk);
  }
  return rc;
}

int sim_pki_ca_new(const struct sim_pki_req *req, struct sim_pki_issuer **out,
                   struct sim_pki_cert *pem) {
  if (req->role != SIM_PKI_CA)
    return SIM_EINVAL;
  struct sim_pki_issuer *ca = calloc(1, sizeof *ca);
  if (!ca)
    return SIM_ENOMEM;
  unsigned char point[65];
  const unsigned char *pub = NULL;
  int rc = new_key(&ca->gen[req->key_type == SIM_PKI_KEY_RSA_2048], req->key_type, &ca->key);
  if (rc == 0 && req->key_type == SIM_PKI_KEY_EC_P256 && (rc = ec_point(ca->key, point)) == 0)
    pub = point;
  if (rc == 0)
    rc = build_cert(req, ca->key, pub, NULL, NULL, &ca->cert);
  if (rc == 0)
    rc = to_pem(ca->cert, ca->key, pub, pem);
  if (rc) {
    sim_pki_issuer_free(ca);
    return rc;
  }
  *out = ca;
  return 0;
}

int sim_pki_issue(struct sim_pki_issuer *ca, const struct sim_pki_req *req,
                  struct sim_pki_cert *out) {
  if (req->role == SIM_PKI_CA)
    return SIM_EINVAL;
  EVP_PKEY *key = NULL;
  X509 *x = NULL;
  unsigned char point[65];
  const unsigned char *pub = NULL;
  int rc = new_key(&ca->gen[req->key_type == SIM_PKI_KEY_RSA_2048], req->key_type, &key);
  if (rc == 0 && req->key_type == SIM_PKI_KEY_EC_P256 && (rc = ec_point(key, point)) == 0)
    pub = point;
  if (rc == 0)
    rc = build_cert(req, key, pub, ca->cert, ca->key, &x);
  if (rc == 0)
    rc = to_pem(x, key, pub, out);
  X509_free(x);
  EVP_PKEY_free(key);
  return rc;
}

int sim_pki_issuer_dup(const struct sim_pki_issuer *ca, struct sim_pki_issuer **out) {
  struct sim_pki_issuer *d = calloc(1, sizeof *d);
  if (!d)
    return SIM_ENOMEM;
  if (!EVP_PKEY_up_ref(ca->key)) {
    free(d);
    return SIM_ENOMEM;
  }
  d->key = ca->key;
  if (!X509_up_ref(ca->cert)) {
    sim_pki_issuer_free(d);
    return SIM_ENOMEM;
  }
  d->cert = ca->cert;
  *out = d;
  return 0;
}

void sim_pki_cert_fini(struct sim_pki_cert *c) {
  free(c->cert_pem);
  if (c->key_pem)
    OPENSSL_cleanse(c->key_pem, c->key_len);
  free(c->key_pem);
  memset(c, 0, sizeof *c);
}

void sim_pki_issuer_free(struct sim_pki_issuer *ca) {
  if (!ca)
    return;
  EVP_PKEY_free(ca->key);
  X509_free(ca->cert);
  EVP_PKEY_CTX_free(ca->gen[0]);
  EVP_PKEY_CTX_free(ca->gen[1]);
  free(ca);
}
