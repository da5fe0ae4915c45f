/* Hub records: one struct plat_hub per hub_id ever seen, in a hash table keyed by hub_id, loaded
 * from the store at start. A record carries the sequence state of the hub's current boot
 * (received: highest seq accepted into the open group; stored: highest committed) because a
 * sequence continues across sessions of the same boot, and the stored seq of a few boots before
 * it, so that a hub that comes back with one of them resumes where it was. */
#include <stdlib.h>
#include <string.h>

#include "platform/server_internal.h"
#include "platform/store.h"
#include "sim/core/err.h"
#include "sim/core/log.h"

static const char *hub_id_of(const void *h) {
  return ((const struct plat_hub *)h)->id;
}

struct plat_hub *plat__hub_find(struct plat_server *srv, const char *id) {
  return sim_htab_get_str(&srv->hubs, id);
}

struct plat_hub *plat__hub_add(struct plat_server *srv, const char *id) {
  size_t n = strlen(id);
  struct plat_hub *h = calloc(1, sizeof(*h) + n + 1);
  if (!h)
    return NULL;
  memcpy(h->id, id, n + 1);
  if (sim_htab_put_str(&srv->hubs, h->id, h)) {
    free(h);
    return NULL;
  }
  srv->c.hubs_known = srv->hubs.n;
  return h;
}

static void load_hub_cb(void *arg, const char *id, uint64_t boot_id, uint64_t stored) {
  struct plat_server *srv = arg;
  struct plat_hub *h = plat__hub_find(srv, id);
  if (!h)
    h = plat__hub_add(srv, id);
  if (h) {
    h->boot_id = boot_id;
    h->stored = h->received = stored;
  }
}

/* Index of boot_id among h's other boots, or -1. */
static int boots_find(const struct plat_hub *h, uint64_t boot_id) {
  for (int i = 0; h->boots && i < h->boots->n; i++)
    if (h->boots->b[i].boot_id == boot_id)
      return i;
  return -1;
}

static void boots_remove(struct plat_hub *h, int i) {
  struct plat_boots *b = h->boots;
  memmove(&b->b[i], &b->b[i + 1], (size_t)(b->n - i - 1) * sizeof(b->b[0]));
  b->n--;
}

/* Keeps (boot_id, stored) as h's newest other boot; the oldest goes when all slots are used. */
static void boots_put(struct plat_hub *h, uint64_t boot_id, uint64_t stored) {
  if (!h->boots && !(h->boots = calloc(1, sizeof(*h->boots))))
    return; /* forgotten: a return to that boot starts from 0, as before boots were kept */
  int i = boots_find(h, boot_id);
  if (i >= 0)
    boots_remove(h, i);
  else if (h->boots->n == PLAT_BOOTS_KEPT)
    boots_remove(h, 0);
  h->boots->b[h->boots->n].boot_id = boot_id;
  h->boots->b[h->boots->n].stored = stored;
  h->boots->n++;
}

static void load_boot_cb(void *arg, const char *id, uint64_t boot_id, uint64_t stored) {
  struct plat_hub *h = plat__hub_find(arg, id);
  if (h && h->boot_id != boot_id)
    boots_put(h, boot_id, stored);
}

void plat__hubs_init(struct plat_server *srv) {
  sim_htab_init_str(&srv->hubs, hub_id_of);
}

int plat__hubs_load(struct plat_server *srv) {
  int rc = plat_store_load_hubs(srv->store, load_hub_cb, srv);
  if (!rc)
    rc = plat_store_load_boots(srv->store, load_boot_cb, srv);
  return rc;
}

void plat__hubs_free(struct plat_server *srv) {
  size_t it = 0;
  for (struct plat_hub *h; (h = sim_htab_next(&srv->hubs, &it));) {
    free(h->boots);
    free(h);
  }
  sim_htab_fini(&srv->hubs);
}

/* h's hub comes back with boot_id, not its current boot. A new boot starts a new sequence; the
 * boot left keeps its stored seq, so that a hub that comes back with it (a second device with
 * this hub's credentials: docs/protocol.md 6.1) resumes where it was instead of losing what it
 * sent. */
void plat__hub_change_boot(struct plat_server *srv, struct plat_hub *h, uint64_t boot_id,
                           uint64_t now) {
  int back = boots_find(h, boot_id);
  uint64_t resume = back >= 0 ? h->boots->b[back].stored : 0;
  if (back >= 0) {
    boots_remove(h, back);
    plat_store_boot_forget(srv->store, h->id, boot_id);
    srv->c.boot_returns++;
    sim_log_limited(&srv->log_boot, PLAT_LOG_EVERY_MS, SIM_LOG_WARN,
                    "platform: hub %s came back with boot %016llx after boot %016llx: two "
                    "devices seem to hold this hub's credentials",
                    h->id, (unsigned long long)boot_id, (unsigned long long)h->boot_id);
  }
  boots_put(h, h->boot_id, h->stored);
  plat_store_boot_keep(srv->store, h->id, h->boot_id, h->stored, now, PLAT_BOOTS_KEPT);
  h->boot_id = boot_id;
  h->received = h->stored = resume;
}
