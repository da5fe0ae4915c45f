/* Hub authentication of hubrpc v1 (docs/protocol.md, "Authentication").
 *   hub_secret = HMAC-SHA256(fleet_key, hub_id)
 *   mac        = HMAC-SHA256(hub_secret, client_nonce || server_nonce) */
#ifndef SIM_WIRE_AUTH_H
#define SIM_WIRE_AUTH_H

#include <stddef.h>
#include <stdint.h>

int sim_auth_hub_secret(const void *fleet_key, size_t key_len, const char *hub_id, uint8_t out[32]);
int sim_auth_mac(const uint8_t secret[32], const uint8_t client_nonce[16],
                 const uint8_t server_nonce[16], uint8_t out[32]);
/* Constant-time comparison: 1 when equal. */
int sim_auth_equal(const uint8_t *a, const uint8_t *b, size_t n);
/* n bytes from the system's cryptographic generator. 0 or SIM_EIO. */
int sim_auth_random(void *p, size_t n);

#endif
