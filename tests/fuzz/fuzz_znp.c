/* Fuzzes the emulated ZNP coordinator as a host's bytes reach it: the UNPI reader and the MT
 * command dispatch behind it (sim/znp/coord.h), fed in pieces split at points drawn from the
 * input itself, with the NV items in memory; a device joins once the host permits joining. Every
 * frame the coordinator sends back must be one whole frame that its own reader accepts (an encoder
 * writing what the reader refuses aborts), and the coordinator's tables stay within their bounds.
 * Inputs reach several frames at the MT limit of 250 data bytes (fuzz_znp.args).
 *
 * With HUBSIM_FUZZ_SEEDS=DIR set, the target writes its seed inputs into DIR and exits (how
 * tests/fuzz/corpus/znp/ was made, beside the bytes of a zigbee-herdsman network start). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/log.h"
#include "sim/fleet/model.h"
#include "sim/znp/coord.h"

#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink_cb(void *ctx, const uint8_t *p, size_t n) {
  (void)ctx;
  struct sim_znp_reader r;
  sim_znp_reader_init(&r);
  struct sim_znp_frame f;
  if (n > SIM_ZNP_MAX_FRAME || sim_znp_reader_next(&r, &p, &n, &f, NULL) != 0 || n != 0 ||
      r.skipped != 0)
    abort(); /* one send is exactly one valid frame */
  if (f.type != SIM_ZNP_SRSP && f.type != SIM_ZNP_AREQ)
    abort();
  return 0;
}

/* A device that joins as soon as the host permits joining, so that requests for its
 * descriptors (and for addresses near it) reach the device paths. */
static const uint16_t dev_in[] = {0x0000, 0x0003, 0x0402};
static const struct sim_model_endpoint dev_ep = {1, 0x0104, 0x0302, dev_in, 3, NULL, 0};
static const struct sim_model dev_model = {.model_id = "fuzz.device",
                                           .power_source = SIM_POWER_BATTERY,
                                           .logical_type = SIM_LOGICAL_END_DEVICE,
                                           .sleepy = 1,
                                           .manufacturer_code = 0x1037,
                                           .endpoints = &dev_ep,
                                           .n_endpoints = 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  static struct sim_znp_coord c; /* large: kept out of the stack, made anew each run */
  char why[128];
  sim_log_set_level(SIM_LOG_ERROR);
  if (sim_znp_coord_init(&c, NULL, sink_cb, NULL, why, sizeof why) != 0)
    abort();
  uint32_t x = (uint32_t)data[0] << 8 | data[1] | 1u; /* xorshift state for the split points */
  data += 2;
  size -= 2;
  size_t off = 0;
  uint64_t now = 0;
  while (off < size) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    size_t chunk = (x & 0x100) ? (x % 600) + 1 : (x % 7) + 1;
    size_t n = size - off < chunk ? size - off : chunk;
    now += x % 3000;
    sim_znp_coord_input(&c, data + off, n, now);
    if (c.ndevs == 0 && c.state == SIM_ZNP_DEV_ZB_COORD && sim_znp_coord_permit_open(&c, now) &&
        sim_znp_coord_join(&c, &dev_model, 0x00158D0001A2B3C4ull, now, NULL) != 0)
      abort(); /* a running network that permits joining must take the device */
    if (c.rd.have >= SIM_ZNP_MAX_FRAME || c.neps > SIM_ZNP_MAX_EPS ||
        c.ngroups > SIM_ZNP_MAX_GROUPS || c.nv.n > SIM_ZNP_NV_MAX_ITEMS)
      abort();
    off += n;
  }
  sim_znp_coord_fini(&c);
  return 0;
}

/* Seeds: a short host session (ping, version, NV init and write, reset, formation, register,
 * permit join), one with a bad FCS and a bad length in front, and one frame at the limit. */
static void put(FILE *fp, uint8_t type, uint8_t subsys, uint8_t cmd, const uint8_t *d, size_t n) {
  struct sim_znp_frame f = {.type = type, .subsys = subsys, .cmd = cmd, .len = (uint8_t)n};
  if (n > 0)
    memcpy(f.data, d, n);
  uint8_t out[SIM_ZNP_MAX_FRAME];
  size_t w = 0;
  if (sim_znp_frame_encode(&f, out, sizeof out, &w) == 0)
    fwrite(out, 1, w, fp);
}
#define PUT(fp, t, s, c, ...)                                                                      \
  put(fp, t, s, c, (const uint8_t[]){0, __VA_ARGS__} + 1,                                          \
      sizeof((const uint8_t[]){0, __VA_ARGS__}) - 1)

static void session(FILE *fp) {
  fputc(0xEF, fp);
  PUT(fp, 1, 1, 0x01);
  PUT(fp, 1, 1, 0x02);
  PUT(fp, 1, 1, 0x13, 0x82, 0x00);
  PUT(fp, 1, 1, 0x1C, 0x82, 0x00, 0x00, 0x00);
  PUT(fp, 1, 1, 0x07, 0x60, 0x00, 0x01, 0x00, 0x01, 0x55);
  PUT(fp, 1, 1, 0x1D, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03);
  PUT(fp, 2, 1, 0x00, 0x01);
  PUT(fp, 1, 15, 0x08, 0x01, 0x00, 0x80, 0x00, 0x00);
  PUT(fp, 1, 15, 0x05, 0x04);
  PUT(fp, 1, 4, 0x00, 0x01, 0x04, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01, 0x06, 0x00, 0x00);
  PUT(fp, 1, 5, 0x05, 0x00, 0x00, 0x00, 0x00);
  PUT(fp, 1, 5, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01);
  PUT(fp, 1, 5, 0x36, 0x02, 0xFC, 0xFF, 0x3C, 0x01);
  PUT(fp, 1, 4, 0x01, 0xFC, 0xFF, 0x01, 0x01, 0x06, 0x00, 0x07, 0x00, 0x1E, 0x01, 0xAB);
  PUT(fp, 1, 5, 0x40, 0x64, 0x00);
  PUT(fp, 1, 7, 0x00);
}

static void write_seeds(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/session", dir);
  FILE *fp = fopen(path, "wb");
  if (!fp)
    return;
  fputc(0x12, fp);
  fputc(0x34, fp);
  session(fp);
  fclose(fp);
  snprintf(path, sizeof path, "%s/refused", dir);
  fp = fopen(path, "wb");
  if (!fp)
    return;
  static const uint8_t bad[] = {0x56, 0x78, 0xFE, 0x00, 0x21, 0x01, 0x21, 0xFE, 0xFB, 0x21};
  fwrite(bad, 1, sizeof bad, fp);
  session(fp);
  fclose(fp);
  snprintf(path, sizeof path, "%s/at_limit", dir);
  fp = fopen(path, "wb");
  if (!fp)
    return;
  fputc(0x00, fp);
  fputc(0x01, fp);
  uint8_t big[SIM_ZNP_MAX_DATA];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (uint8_t)i;
  big[7] = 60;
  big[8 + 120] = 57; /* an AF_REGISTER at the cluster bound */
  put(fp, 1, 4, 0x00, big, 9 + 2 * 117);
  put(fp, 1, 1, 0x1D, big, sizeof big);
  session(fp);
  fclose(fp);
}
FUZZ_SEEDS_ON_INIT(write_seeds)
