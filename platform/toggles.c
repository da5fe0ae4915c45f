/* Background toggles (--command-rate): on/off Toggles sent now and then to the plugs
 * (PLAT_TOGGLE_MODEL devices) behind online hubs, the load a real platform's users add. The
 * plugs seen are kept in order (the toggles pick among them) and in a hash table by EUI-64,
 * loaded from the store at start and kept up to date by DeviceJoined and DeviceLeft. */
#include <stdlib.h>

#include "platform/platform.h"
#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/rng.h"

/* Adds or re-targets a plug. The map never deletes: a plug that left keeps its entry with
 * hub == NULL, so a rejoin reuses it. */
void plat__plug_set(struct plat_server *srv, uint64_t eui64, struct plat_hub *hub,
                    uint8_t endpoint) {
  struct plat_plug *p = sim_htab_get(&srv->plug_by_eui, eui64);
  if (p) {
    p->hub = hub;
    p->endpoint = endpoint;
    return;
  }
  if (!hub)
    return;
  if (srv->nplugs == srv->plugs_cap) {
    size_t ncap = srv->plugs_cap ? srv->plugs_cap * 2 : 256;
    struct plat_plug **np = realloc(srv->plugs, ncap * sizeof(*np));
    if (!np)
      return;
    srv->plugs = np;
    srv->plugs_cap = ncap;
  }
  if (!(p = malloc(sizeof(*p))))
    return;
  *p = (struct plat_plug){eui64, hub, endpoint};
  if (sim_htab_put(&srv->plug_by_eui, eui64, p)) {
    free(p);
    return;
  }
  srv->plugs[srv->nplugs++] = p;
}

static void load_plug_cb(void *arg, uint64_t eui64, const char *hub_id) {
  struct plat_server *srv = arg;
  struct plat_hub *h = plat__hub_find(srv, hub_id);
  if (h)
    plat__plug_set(srv, eui64, h, 1);
}

int plat__plugs_load(struct plat_server *srv) {
  return plat_store_load_devices(srv->store, PLAT_TOGGLE_MODEL, load_plug_cb, srv);
}

void plat__plugs_free(struct plat_server *srv) {
  for (size_t i = 0; i < srv->nplugs; i++)
    free(srv->plugs[i]);
  free(srv->plugs);
  sim_htab_fini(&srv->plug_by_eui);
}

/* Background toggles: every 1/rate s one on/off Toggle (cluster 0x0006, command 0x02) to a
 * random plug behind an online hub. Rates above the timer resolution send several per tick,
 * keeping the average. */
void plat__toggle_timer_cb(uv_timer_t *t) {
  struct plat_server *srv = t->data;
  uint64_t now = plat__mono_ms(srv);
  double due = (double)(now - srv->toggle_start_ms) * srv->cfg.command_rate / 1000.0;
  uint64_t n = due > (double)srv->toggles ? (uint64_t)(due - (double)srv->toggles) : 0;
  if (n > 10000)
    n = 10000;
  for (uint64_t i = 0; i < n; i++) {
    srv->toggles++;
    if (!srv->nplugs)
      continue;
    for (int tries = 0; tries < 16; tries++) {
      struct plat_plug *p = srv->plugs[sim_rng_below(&srv->rng, (uint32_t)srv->nplugs)];
      if (p->hub && p->hub->sess && p->hub->sess->state == PLAT_S_OPEN) {
        plat_server_command(srv, p->hub->id, p->eui64, p->endpoint, 0x0006, 0x02, NULL, 0, 0, 0,
                            NULL);
        break;
      }
    }
  }
}

/* Arms the toggle timer (from the start) when a command rate is set. */
void plat__toggles_start(struct plat_server *srv) {
  if (srv->cfg.command_rate > 0) {
    double period = 1000.0 / srv->cfg.command_rate;
    uint64_t ms = period < 1 ? 1 : (uint64_t)period;
    srv->toggle_start_ms = plat__mono_ms(srv);
    plat__timer_set(srv, PLAT_T_TOGGLE, ms, ms);
  }
}
