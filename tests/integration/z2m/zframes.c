/* One device of a catalogue model stepped alone (no engine, no network), driven by a script of
 * steps on the command line, printing every frame it sends as the hub would hand it to a host:
 * the input of z2m_converters.js, which runs zigbee2mqtt's own converters over them.
 *   zframes MODEL STEP...
 * The device joins at time 0; steps, in order:
 *   at:S                        runs the device's wakeups up to S seconds
 *   cmd:EP:CLUSTER:CMD:HEX      a cluster-specific command (hex payload, may be empty)
 *   read:EP:CLUSTER:ATTR[,ATTR] Read Attributes
 *   trigger:NAME                a trigger of the model
 *   value:CHANNEL               prints "value CHANNEL X" (the channel's value now)
 *   mark                        prints "mark" (the reader starts after the last one)
 * Output lines: "frame EP CLUSTER HEX" (cluster in decimal), "value ..." and "mark". Exit 2 on a
 * bad
 * step, naming it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/cat_global.h"
#include "devices/cat_types.h"
#include "devices/generic.h"
#include "sim/core/hex.h"
#include "sim/fleet/model.h"

#define NOON 1767268800000ull /* 2026-01-01T12:00:00Z */

struct zf {
  struct sim_dev_env env; /* first: emit recovers the struct */
  struct sim_device dev;
  struct sim_rng rng;
  const struct sim_model *m;
};

static int zf_emit(struct sim_dev_env *env, uint8_t ep, uint16_t cluster, const uint8_t *zcl,
                   size_t len) {
  char hex[2 * 256 + 1];
  if (len > 256)
    len = 256;
  sim_hex_encode(hex, zcl, len, 0);
  (void)env;
  printf("frame %u %u %s\n", ep, cluster, hex);
  return 0;
}

static void zf_at(struct zf *z, sim_time_t t) {
  z->env.now = z->env.due = t;
  z->env.wall_ms = NOON + t / 1000;
}

/* The device's wakeups up to t (bounded in count). */
static void zf_run_until(struct zf *z, sim_time_t t) {
  for (int i = 0; i < 1000000 && z->env.next && z->env.next <= t; i++) {
    zf_at(z, z->env.next);
    z->m->ops->tick(z->m, &z->dev, &z->env);
  }
  zf_at(z, t);
}

static int zf_command(struct zf *z, const char *arg, int global) {
  unsigned ep, cluster, cmd = 0;
  int used = 0;
  uint8_t pl[64];
  size_t n = 0;
  if (global) {
    if (sscanf(arg, "%u:%x:%n", &ep, &cluster, &used) != 2)
      return -1;
    for (const char *p = arg + used; *p && n + 2 <= sizeof pl;) {
      char *end;
      unsigned long id = strtoul(p, &end, 16);
      if (end == p || id > 0xFFFF)
        return -1;
      pl[n++] = (uint8_t)id;
      pl[n++] = (uint8_t)(id >> 8);
      p = *end == ',' ? end + 1 : end;
    }
  } else {
    if (sscanf(arg, "%u:%x:%x:%n", &ep, &cluster, &cmd, &used) != 3)
      return -1;
    const char *hex = arg + used;
    if (sim_hex_decode(hex, strlen(hex), 0, pl, sizeof pl, &n) != 0)
      return -1;
  }
  struct sim_dev_cmd c = {.endpoint = (uint8_t)ep,
                          .cluster = (uint16_t)cluster,
                          .command = (uint8_t)cmd,
                          .global = (uint8_t)global,
                          .payload = pl,
                          .len = n};
  uint32_t lat;
  z->m->ops->command(z->m, &z->dev, &z->env, &c, &lat);
  return 0;
}

static int zf_step(struct zf *z, const char *s) {
  const struct dev_cat_model *cm = z->m->params;
  if (strcmp(s, "mark") == 0) {
    printf("mark\n");
    return 0;
  }
  if (strncmp(s, "at:", 3) == 0) {
    double sec = atof(s + 3);
    if (sec * 1e6 < (double)z->env.now)
      return -1;
    zf_run_until(z, (sim_time_t)(sec * 1e6));
    return 0;
  }
  if (strncmp(s, "cmd:", 4) == 0)
    return zf_command(z, s + 4, 0);
  if (strncmp(s, "read:", 5) == 0)
    return zf_command(z, s + 5, 1);
  if (strncmp(s, "trigger:", 8) == 0)
    return z->m->ops->trigger(z->m, &z->dev, &z->env, s + 8) == 0 ? 0 : -1;
  if (strncmp(s, "value:", 6) == 0) {
    int ch = dev_cat_channel_find(cm, s + 6);
    if (ch < 0)
      return -1;
    printf("value %s %.6g\n", s + 6, dev_generic_value(cm, &z->dev, &z->env, ch));
    return 0;
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: zframes MODEL STEP...\n");
    return 2;
  }
  static struct zf z;
  z.m = dev_catalog_find(argv[1]);
  if (!z.m || z.m->ops != &dev_generic_ops) {
    fprintf(stderr, "zframes: unknown model %s\n", argv[1]);
    return 2;
  }
  sim_rng_seed(&z.rng, 7, 0);
  z.env.rng = &z.rng;
  z.env.emit = zf_emit;
  z.env.eui64 = (uint64_t)z.m->ieee_oui << 40 | 0x0000ABCDEFull;
  z.dev.lqi = 255;
  zf_at(&z, 0);
  z.m->ops->join(z.m, &z.dev, &z.env, 0);
  z.dev.flags |= SIM_DEV_JOINED;
  for (int i = 2; i < argc; i++)
    if (zf_step(&z, argv[i]) != 0) {
      fprintf(stderr, "zframes: step %d \"%s\": not understood or refused\n", i - 1, argv[i]);
      return 2;
    }
  return fflush(stdout) == 0 ? 0 : 1;
}
