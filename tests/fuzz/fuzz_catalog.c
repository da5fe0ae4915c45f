/* Fuzzes the catalogue loader (devices/cat_load.c) with the text of a user's catalogue file,
 * then runs what it accepted: a model that loads must also join, tick, answer a command and
 * take its triggers under the generic behaviour (devices/generic.c) without tripping the
 * sanitizers, and every frame it sends must be a ZCL frame the hub-side decoder takes, no longer
 * than a device frame may be. The same text is then added a second time, which must fail (every
 * id is a duplicate) and leave the catalogue as it was.
 *
 * The loader refuses a text longer than DEV_CAT_FILE_MAX before parsing it; fuzz_catalog.args
 * lets inputs grow to that size. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/core/rng.h"
#include "sim/wire/zcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int emit(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster, const uint8_t *zcl,
                size_t len) {
  (void)env;
  (void)endpoint;
  struct sim_zcl_header h;
  if (len > DEV_ZCL_FRAME_MAX || sim_zcl_parse_header(zcl, len, &h) != 0)
    abort();
  struct sim_zcl_attr attrs[64];
  size_t top, total;
  sim_zcl_decode_attrs(cluster, zcl, len, attrs, 64, &top, &total);
  return 0;
}

/* One device of the model: join, a bounded number of wakeups, a Read Attributes of everything
 * it lists, one of its commands, its triggers. */
static void drive(const struct dev_cat_model *cm) {
  const struct sim_model *m = &cm->m;
  struct sim_rng rng;
  sim_rng_seed(&rng, 1, 0);
  struct sim_device dev;
  memset(&dev, 0, sizeof dev);
  struct sim_dev_env env;
  memset(&env, 0, sizeof env);
  env.rng = &rng;
  env.emit = emit;
  env.eui64 = (uint64_t)m->ieee_oui << 40 | 0x0102030405ull;
  env.wall_ms = 1767225600000ull;
  m->ops->join(m, &dev, &env, 0);
  for (int i = 0; i < 32 && env.next; i++) {
    if (env.next <= env.due)
      abort(); /* a wakeup must move time forward */
    env.wall_ms += (env.next - env.due) / 1000;
    env.now = env.due = env.next;
    m->ops->tick(m, &dev, &env);
  }
  uint8_t ids[2 * 16];
  size_t n = 0;
  for (uint8_t i = 0; i < cm->n_attr && n + 2 <= sizeof ids; i++) {
    ids[n++] = (uint8_t)cm->attr[i].attr;
    ids[n++] = (uint8_t)(cm->attr[i].attr >> 8);
  }
  uint32_t lat;
  struct sim_dev_cmd rd = {.endpoint = m->endpoints[0].id,
                           .cluster = 0x0000,
                           .command = 0x00,
                           .global = 1,
                           .payload = ids,
                           .len = n};
  if (cm->n_attr)
    rd.cluster = cm->attr[0].cluster;
  m->ops->command(m, &dev, &env, &rd, &lat);
  if (cm->n_cmd) {
    static const uint8_t arg[8] = {0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    struct sim_dev_cmd c = {.endpoint = cm->cmd[0].ep ? cm->cmd[0].ep : m->endpoints[0].id,
                            .cluster = cm->cmd[0].cluster,
                            .command = cm->cmd[0].command,
                            .payload = arg,
                            .len = sizeof arg};
    m->ops->command(m, &dev, &env, &c, &lat);
  }
  for (uint8_t i = 0; i < cm->n_trig; i++)
    m->ops->trigger(m, &dev, &env, cm->trig[i].name);
  for (int i = 0; i < 8 && env.next; i++) {
    if (env.next <= env.due)
      abort();
    env.now = env.due = env.next;
    m->ops->tick(m, &dev, &env);
  }
  for (int ch = 0; ch < cm->n_ch; ch++)
    (void)dev_generic_value(cm, &dev, &env, ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct dev_cat *c = dev_cat_new();
  if (!c)
    return 0;
  struct dev_cat_error err;
  if (dev_cat_add_text(c, "fuzz.yaml", (const char *)data, size, &err) == 0) {
    if (c->n_models + c->n_hubs == 0)
      abort(); /* a file that loads adds something */
    for (size_t i = 0; i < c->n_models && i < 4; i++)
      drive(c->models[i]);
    size_t models = c->n_models, hubs = c->n_hubs;
    if (dev_cat_add_text(c, "again.yaml", (const char *)data, size, &err) == 0 ||
        c->n_models != models || c->n_hubs != hubs)
      abort();
  } else if (c->n_models || c->n_hubs || !err.reason[0]) {
    abort(); /* a failed load leaves nothing behind and says why */
  }
  dev_cat_free(c);
  return 0;
}
