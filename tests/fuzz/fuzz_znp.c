/* Fuzzes the emulated ZNP coordinator as a host's bytes reach it: the UNPI reader and the MT
 * command dispatch behind it (sim/znp/coord.h), fed in pieces split at points drawn from the
 * input itself, with the NV items in memory; a catalogue device joins once the host permits
 * joining, and the host's ZCL to it reaches the model's behaviour; the NV tables of joined
 * devices (SYS_NV_*) are read and written, and the device is brought back from them as after a
 * restart whenever it has left. Every
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

#include "devices/cat_global.h"
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

/* A catalogue device (a curtain motor: a router with commands and attributes) joins as soon as
 * the host permits joining, so that descriptor requests and ZCL frames from the host reach the
 * device paths and the model's own command parser. */
static const struct sim_model *fuzz_device(void) {
  static const struct sim_model *m;
  if (!m && !(m = dev_catalog_find("lumi.curtain")))
    abort(); /* the built-in catalogue has it */
  return m;
}

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
        sim_znp_coord_join(&c, fuzz_device(), 0x00158D0001A2B3C4ull, now, NULL) != 0)
      abort(); /* a running network that permits joining must take the device */
    int rc = sim_znp_coord_resume(&c, fuzz_device(), 0x00158D0001A2B3C4ull, now);
    if (rc != 0 && rc != SIM_ENOTFOUND && rc != SIM_EUNEXPECTED)
      abort(); /* whatever the host wrote into the tables */
    if (c.rd.have >= SIM_ZNP_MAX_FRAME || c.neps > SIM_ZNP_MAX_EPS ||
        c.ngroups > SIM_ZNP_MAX_GROUPS || c.nv.n > SIM_ZNP_NV_MAX_ITEMS ||
        c.nv.nx > SIM_ZNP_NV_MAX_XITEMS || c.ndevs > SIM_ZNP_MAX_DEVICES)
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

/* The NV tables as a host's backup and restore use them: lengths and reads of table entries,
 * an address manager entry written (the fuzz device's address), an item created, written,
 * read past its end and deleted, a legacy item through item 0. */
static void tables(FILE *fp) {
  PUT(fp, 1, 15, 0x05, 0x04);
  PUT(fp, 1, 1, 0x32, 0x01, 0x01, 0x00, 0x00, 0x00);
  PUT(fp, 1, 1, 0x33, 0x01, 0x04, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x13);
  PUT(fp, 1, 1, 0x34, 0x01, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x0B, 0x03, 0x34, 0x12, 0xC4, 0xB3,
      0xA2, 0x01, 0x00, 0x8D, 0x15, 0x00);
  PUT(fp, 1, 1, 0x30, 0x02, 0x05, 0x00, 0x09, 0x00, 0x0A, 0x00, 0x00, 0x00);
  PUT(fp, 1, 1, 0x34, 0x02, 0x05, 0x00, 0x09, 0x00, 0x08, 0x00, 0x02, 0xAA, 0xBB);
  PUT(fp, 1, 1, 0x33, 0x02, 0x05, 0x00, 0x09, 0x00, 0x08, 0x00, 0x05);
  PUT(fp, 1, 1, 0x31, 0x02, 0x05, 0x00, 0x09, 0x00);
  PUT(fp, 1, 1, 0x32, 0x01, 0x00, 0x00, 0x4C, 0x00);
  PUT(fp, 1, 1, 0x31, 0x01, 0x07, 0x00, 0x04, 0x00);
}

static int discard_cb(void *ctx, const uint8_t *p, size_t n) {
  (void)ctx;
  (void)p;
  (void)n;
  return 0;
}

/* The network address the fuzz device gets: from a coordinator that forms, opens and lets it
 * join, as a run does. */
static uint16_t fuzz_device_nwk(void) {
  static struct sim_znp_coord c;
  char why[128];
  uint16_t nwk = 0;
  if (sim_znp_coord_init(&c, NULL, discard_cb, NULL, why, sizeof why) != 0)
    abort();
  static const uint8_t form[] = {0xFE, 0x01, 0x2F, 0x05, 0x04, 0x2F, 0xFE, 0x05,
                                 0x25, 0x36, 0x0F, 0xFC, 0xFF, 0x3C, 0x01, 0x27};
  sim_znp_coord_input(&c, form, sizeof form, 0);
  if (sim_znp_coord_join(&c, fuzz_device(), 0x00158D0001A2B3C4ull, 0, &nwk) != 0)
    abort();
  sim_znp_coord_fini(&c);
  return nwk;
}

static void write_seeds(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/device_zcl", dir);
  FILE *dfp = fopen(path, "wb");
  if (!dfp)
    return;
  uint16_t nwk = fuzz_device_nwk();
  uint8_t lo = (uint8_t)nwk, hi = (uint8_t)(nwk >> 8);
  fputc(0x31, dfp);
  fputc(0x07, dfp);
  PUT(dfp, 1, 15, 0x05, 0x04);
  PUT(dfp, 1, 5, 0x36, 0x0F, 0xFC, 0xFF, 0x3C, 0x01);
  PUT(dfp, 1, 4, 0x00, 0x01, 0x04, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00);
  PUT(dfp, 1, 5, 0x02, lo, hi, lo, hi);
  PUT(dfp, 1, 5, 0x05, lo, hi, lo, hi);
  PUT(dfp, 1, 5, 0x04, lo, hi, lo, hi, 0x01);
  /* genBasic read of modelId and manufacturerName; closuresWindowCovering up-open; a write */
  PUT(dfp, 1, 4, 0x01, lo, hi, 1, 1, 0x00, 0x00, 1, 0, 30, 7, 0x00, 0x01, 0x00, 0x05, 0x00, 0x04,
      0x00);
  PUT(dfp, 1, 4, 0x01, lo, hi, 1, 1, 0x02, 0x01, 2, 0, 30, 3, 0x01, 0x02, 0x00);
  PUT(dfp, 1, 4, 0x01, lo, hi, 1, 1, 0x02, 0x01, 3, 0, 30, 7, 0x00, 0x03, 0x02, 0x08, 0x00, 0x20,
      0x32);
  fclose(dfp);
  FILE *fp;
  snprintf(path, sizeof path, "%s/nv_tables", dir);
  if ((fp = fopen(path, "wb")) != NULL) {
    fputc(0x5A, fp);
    fputc(0x17, fp);
    tables(fp);
    fclose(fp);
  }
  snprintf(path, sizeof path, "%s/session", dir);
  fp = fopen(path, "wb");
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
