/* The radio between the emulated coordinator and its devices (see struct sim_znp_radio in
 * coord.h): the same model as between hubrpc hubs and their devices (sim/fleet/radio.c), in the
 * coordinator's terms. A device frame crosses the device's hops to the host as AF_INCOMING_MSG,
 * later, or never (lost after every retry: the host never sees it). A host AF data request
 * crosses them the other way; Z-Stack confirms it when the frame reached the device
 * (AF_DATA_CONFIRM success) or when the MAC gave up (MAC_NO_ACK). A sleepy device is reached
 * indirectly: the frame waits in the coordinator until the device polls, or expires after the
 * hold (MAC_TRANSACTION_EXPIRED), as in Z-Stack's indirect queue.
 *
 * What must wait lives in one array per coordinator, allocated the first time something waits,
 * so a coordinator without delay, loss or sleepy holds pays nothing and answers as before: at
 * once, in the same call. */
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/fleet/fleet.h"
#include "sim/znp/coord_internal.h"

/* UP: a device frame crossing to the host; DOWN: a host frame crossing to its device; NOACK: a
 * host frame whose crossing failed, confirmed when the MAC gives up; HELD: a host frame for a
 * sleepy device, waiting for its poll (due) or its expiry (expire_at). */
enum { AIR_UP = 1, AIR_DOWN, AIR_NOACK, AIR_HELD };

struct sim__znp_air {
  uint8_t kind;
  uint8_t ep, dst_ep, transid; /* up: the device's endpoint; down: the host's and the device's */
  uint16_t cluster, len;
  uint64_t ieee;        /* the device: found again by address, as it may have left */
  sim_time_t due;       /* when it is handled */
  sim_time_t expire_at; /* held: when the coordinator gives up on the device's poll */
  uint8_t data[SIM_ZNP_MAX_DATA];
};

/* The coordinator's endpoint 1 (Home Automation) receives what devices send. */
#define HOST_EP 1
#define NEVER ((sim_time_t)-1)

void sim_znp_coord_set_radio(struct sim_znp_coord *c, const struct sim_znp_radio *r) {
  c->radio = *r;
  sim_rng_seed(&c->radio_rng, sim_hash_mix64(c->ieee ^ 0x5241444Full), 2);
}

static int radio_on(const struct sim_znp_coord *c) {
  return c->radio.hops > 0 && (c->radio.hop_delay > 0 || c->radio.loss > 0);
}

static int sleepy_on(const struct sim_znp_coord *c, const struct sim_znp_dev *d) {
  return c->radio.sleepy_hold_ms > 0 && d->model->sleepy;
}

/* One crossing of the device's hops: its time in *t, and 0, or SIM_ETIMEOUT when every attempt
 * of a hop failed (*t is then the time the attempts took). The device's distance is fixed by
 * its address, with the same draw as behind hubrpc hubs. */
static int crossing(struct sim_znp_coord *c, uint64_t ieee, sim_time_t *t) {
  *t = 0;
  if (!radio_on(c))
    return 0;
  uint32_t hops = 1 + (uint32_t)(sim_hash_mix64(ieee ^ 0x40905ull) % c->radio.hops);
  for (uint32_t k = 0; k < hops; k++) {
    int tries = 1;
    while (c->radio.loss > 0 && sim_rng_unit(&c->radio_rng) < c->radio.loss) {
      if (tries == 1 + SIM_RADIO_RETRIES) {
        *t += c->radio.hop_delay * tries;
        return SIM_ETIMEOUT;
      }
      tries++;
      c->stats.radio_retries++;
    }
    *t += c->radio.hop_delay * tries;
  }
  return 0;
}

/* A place in the air, or NULL when SIM_ZNP_AIR_MAX frames wait already (counted). */
static struct sim__znp_air *air_add(struct sim_znp_coord *c, uint8_t kind, uint64_t ieee,
                                    sim_time_t due) {
  if (c->nair >= SIM_ZNP_AIR_MAX) {
    c->stats.air_full++;
    return NULL;
  }
  if (c->nair == c->cap_air) {
    size_t cap = c->cap_air ? 2 * c->cap_air : 16;
    struct sim__znp_air *p = realloc(c->air, cap * sizeof *p);
    if (!p) {
      c->stats.air_full++;
      return NULL;
    }
    c->air = p;
    c->cap_air = cap;
  }
  struct sim__znp_air *a = &c->air[c->nair++];
  memset(a, 0, offsetof(struct sim__znp_air, data));
  a->kind = kind;
  a->ieee = ieee;
  a->due = due;
  return a;
}

/* The device frame reaches the host now: AF_INCOMING_MSG from its address and endpoint. */
static int deliver_up(struct sim_znp_coord *c, const struct sim_znp_dev *d, uint8_t ep,
                      uint16_t cluster, const uint8_t *zcl, size_t len) {
  struct sim_znp_af_in in = {.cluster = cluster,
                             .src = d->nwk,
                             .src_ep = ep,
                             .dst_ep = HOST_EP,
                             .lqi = d->sd.lqi ? d->sd.lqi : 0xFF,
                             .timestamp = (uint32_t)c->now_ms,
                             .data = zcl,
                             .len = len};
  struct sim_znp_frame f;
  if (sim_znp_mt_af_incoming(&f, &in) != 0) {
    c->stats.device_frames_dropped++;
    return SIM_ETOOBIG;
  }
  sim__znp_emit(c, &f);
  if (c->on_dev_frame)
    c->on_dev_frame(c->on_dev_frame_ctx, d, ep, cluster, zcl, len);
  return 0;
}

static sim_time_t max_t(sim_time_t a, sim_time_t b) {
  return a > b ? a : b;
}

/* A sleepy device that transmits polls right after, and stays awake a little: what waits for
 * it is fetched one fast poll later. */
static void sleepy_sent(struct sim_znp_coord *c, struct sim_znp_dev *d, sim_time_t now) {
  d->awake_until = max_t(d->awake_until, now + SIM_MS(c->radio.awake_tx_ms));
  for (size_t i = 0; i < c->nair; i++) {
    struct sim__znp_air *a = &c->air[i];
    if (a->kind == AIR_HELD && a->ieee == d->ieee && a->due > now)
      a->due = now + SIM_MS(c->radio.awake_poll_ms);
  }
}

int sim__znp_radio_up(struct sim_znp_coord *c, struct sim_znp_dev *d, uint8_t ep, uint16_t cluster,
                      const uint8_t *zcl, size_t len) {
  sim_time_t now = SIM_MS(c->now_ms);
  if (sleepy_on(c, d))
    sleepy_sent(c, d, now);
  if (len > SIM_ZNP_AF_IN_MAX) {
    c->stats.device_frames_dropped++;
    return SIM_ETOOBIG;
  }
  sim_time_t t;
  if (crossing(c, d->ieee, &t) != 0) {
    c->stats.radio_lost++; /* the device's MAC gave up; the host never sees it */
    return 0;
  }
  struct sim__znp_air *a = t > 0 ? air_add(c, AIR_UP, d->ieee, now + t) : NULL;
  if (!a)
    return deliver_up(c, d, ep, cluster, zcl, len);
  a->ep = ep;
  a->cluster = cluster;
  a->len = (uint16_t)len;
  memcpy(a->data, zcl, len);
  return 0;
}

static void confirm(struct sim_znp_coord *c, uint8_t status, uint8_t ep, uint8_t transid) {
  struct sim_znp_frame out;
  sim_znp_mt_af_data_confirm(&out, status, ep, transid);
  sim__znp_emit(c, &out);
}

/* The host's frame leaves the coordinator now (directly, or on the sleepy device's poll): it
 * reaches the device after its crossing, confirmed then, and the device acts on it after the
 * confirm, as the frame reaches it after the MAC ack; or the MAC gives up (MAC_NO_ACK). */
static void send_down(struct sim_znp_coord *c, struct sim_znp_dev *d, const struct sim__znp_air *w,
                      sim_time_t now) {
  sim_time_t t;
  int lost = crossing(c, d->ieee, &t) != 0;
  if (lost)
    c->stats.radio_lost_host++;
  struct sim__znp_air *a = t > 0 ? air_add(c, lost ? AIR_NOACK : AIR_DOWN, d->ieee, now + t) : NULL;
  if (a) {
    uint8_t kind = a->kind;
    *a = *w;
    a->kind = kind;
    a->due = now + t;
    return;
  }
  /* no time to wait (or the air is full: it crosses undelayed) */
  if (lost) {
    confirm(c, SIM_ZNP_ST_MAC_NO_ACK, w->ep, w->transid);
    return;
  }
  confirm(c, SIM_ZNP_ST_SUCCESS, w->ep, w->transid);
  sim__znp_dev_zcl(c, d, w->dst_ep, w->cluster, w->data, w->len);
}

/* When a sleepy device that is not awake polls next after now by its own poll period (its
 * model's poll_ms, on a phase of its own), or NEVER when it has none. */
static sim_time_t periodic_poll(const struct sim_znp_dev *d, sim_time_t now) {
  if (!d->model->poll_ms)
    return NEVER;
  uint64_t period = (uint64_t)d->model->poll_ms * 1000u;
  uint64_t phase = sim_hash_mix64(d->ieee ^ 0x9011ull) % period;
  uint64_t k = now >= phase ? (now - phase) / period + 1 : 0;
  return (sim_time_t)(phase + k * period);
}

void sim__znp_radio_down(struct sim_znp_coord *c, struct sim_znp_dev *d,
                         const struct sim_znp_af_req *req) {
  sim_time_t now = SIM_MS(c->now_ms);
  struct sim__znp_air w = {.ep = req->src_ep,
                           .dst_ep = req->dst_ep,
                           .transid = req->transid,
                           .cluster = req->cluster,
                           .len = req->len,
                           .ieee = d->ieee};
  if (req->len > sizeof w.data) { /* cannot happen: the request came in one frame */
    confirm(c, SIM_ZNP_ST_INVALID_PARAMETER, req->src_ep, req->transid);
    return;
  }
  memcpy(w.data, req->data, req->len);
  int pairing = d->pairing_until > now;
  if (!sleepy_on(c, d) || (pairing && c->radio.pairing_poll_ms == 0)) {
    send_down(c, d, &w, now);
    return;
  }
  /* Indirect: held until the device polls. Awake, it polls within one fast poll; asleep, when
   * it next transmits (sleepy_sent) or at its own poll period, or the hold runs out. */
  c->stats.sleepy_held++;
  sim_time_t expire = now + SIM_MS(c->radio.sleepy_hold_ms);
  sim_time_t due = now + SIM_MS(pairing ? c->radio.pairing_poll_ms : c->radio.awake_poll_ms);
  if (d->awake_until <= now) {
    sim_time_t p = periodic_poll(d, now);
    due = p < expire ? p : expire;
  }
  struct sim__znp_air *a = air_add(c, AIR_HELD, d->ieee, due);
  if (!a) {
    confirm(c, SIM_ZNP_ST_MAC_TRANSACTION_OVERFLOW, req->src_ep, req->transid);
    return;
  }
  *a = w;
  a->kind = AIR_HELD;
  a->due = due;
  a->expire_at = expire;
}

/* One frame of the air whose time came. w is a copy: handling it may add to the air. The host
 * gets a confirm for each of its frames, even when the device left meanwhile. */
static void handle(struct sim_znp_coord *c, const struct sim__znp_air *w, sim_time_t now) {
  struct sim_znp_dev *d = sim__znp_dev_by_ieee(c, w->ieee);
  switch (w->kind) {
  case AIR_UP:
    if (d) /* else it left (or a reset forgot it) while its frame was in the air */
      deliver_up(c, d, w->ep, w->cluster, w->data, w->len);
    break;
  case AIR_DOWN:
    if (!d) {
      confirm(c, SIM_ZNP_ST_MAC_NO_ACK, w->ep, w->transid);
      break;
    }
    confirm(c, SIM_ZNP_ST_SUCCESS, w->ep, w->transid);
    sim__znp_dev_zcl(c, d, w->dst_ep, w->cluster, w->data, w->len);
    break;
  case AIR_NOACK:
    confirm(c, SIM_ZNP_ST_MAC_NO_ACK, w->ep, w->transid);
    break;
  case AIR_HELD:
    if (w->due >= w->expire_at || !d) { /* it did not poll within the hold */
      c->stats.sleepy_expired++;
      confirm(c, SIM_ZNP_ST_MAC_TRANSACTION_EXPIRED, w->ep, w->transid);
    } else {
      send_down(c, d, w, now); /* it polled: the frame goes out now */
    }
    break;
  default:
    break;
  }
}

void sim__znp_radio_tick(struct sim_znp_coord *c, sim_time_t now) {
  /* Earliest first, in the order they were added when due together. Handling one never adds
   * one due at or before now (crossings and polls take time), so this ends; bounded anyway. */
  for (size_t n = c->nair; n > 0; n--) {
    size_t best = c->nair;
    for (size_t i = 0; i < c->nair; i++)
      if (c->air[i].due <= now && (best == c->nair || c->air[i].due < c->air[best].due))
        best = i;
    if (best == c->nair)
      return;
    struct sim__znp_air w = c->air[best];
    memmove(&c->air[best], &c->air[best + 1], (c->nair - best - 1) * sizeof w);
    c->nair--;
    handle(c, &w, now);
  }
}

sim_time_t sim__znp_radio_next_due(const struct sim_znp_coord *c) {
  sim_time_t best = 0;
  for (size_t i = 0; i < c->nair; i++)
    if (best == 0 || c->air[i].due < best)
      best = c->air[i].due;
  return best;
}

void sim__znp_radio_fini(struct sim_znp_coord *c) {
  free(c->air);
  c->air = NULL;
  c->nair = c->cap_air = 0;
}
