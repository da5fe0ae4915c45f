#include "sim/wire/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "sim/core/err.h"

int sim_auth_hub_secret(const void *fleet_key, size_t key_len, const char *hub_id,
                        uint8_t out[32]) {
  unsigned int n = 32;
  if (!HMAC(EVP_sha256(), fleet_key, (int)key_len, (const unsigned char *)hub_id, strlen(hub_id),
            out, &n))
    return SIM_EIO;
  return 0;
}

int sim_auth_mac(const uint8_t secret[32], const uint8_t client_nonce[16],
                 const uint8_t server_nonce[16], uint8_t out[32]) {
  uint8_t msg[32];
  memcpy(msg, client_nonce, 16);
  memcpy(msg + 16, server_nonce, 16);
  unsigned int n = 32;
  if (!HMAC(EVP_sha256(), secret, 32, msg, sizeof(msg), out, &n))
    return SIM_EIO;
  return 0;
}

int sim_auth_equal(const uint8_t *a, const uint8_t *b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}

int sim_auth_random(void *p, size_t n) {
  return RAND_bytes(p, (int)n) == 1 ? 0 : SIM_EIO;
}
