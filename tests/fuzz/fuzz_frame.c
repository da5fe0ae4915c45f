/* Fuzzes what a peer controls first: the varint framing, the Envelope decoder (with its nesting
 * check), and the ZCL attribute decoder that reads frames from devices. The input is split into
 * chunks at sizes taken from its first byte, so that reassembly across reads is exercised as
 * well. Inputs reach the frame limit (fuzz_frame.args): a frame of 65536 bytes of body fits.
 *
 * With HUBSIM_FUZZ_SEEDS=DIR set, the target writes its large seed inputs into DIR and exits
 * (how the deep and large frames of tests/fuzz/corpus/frame/ were made). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/core/err.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "sim/wire/zcl.h"
#include "support/wirebuild.h"

#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_frame(void *arg, const uint8_t *body, size_t len) {
  (void)arg;
  sim_envelope *env = NULL;
  int nest = sim_hubrpc_check_nesting(body, len);
  int rc = sim_hubrpc_decode(body, len, &env);
  if (nest && rc != SIM_EMALFORMED)
    abort(); /* the decoder let past a body its own nesting check refuses */
  if (rc == 0) {
    /* Touch what the session would read, so that a decoder leaving bad pointers shows. */
    if (env->body_case == HUBRPC__V1__ENVELOPE__BODY_REPORT && env->report->zcl_frame.len) {
      struct sim_zcl_attr attrs[64];
      size_t top, total;
      sim_zcl_decode_attrs((uint16_t)env->report->cluster, env->report->zcl_frame.data,
                           env->report->zcl_frame.len, attrs, 64, &top, &total);
    }
    sim_hubrpc_free(env);
  }
  /* The ZCL decoder sees the raw body too: it must survive anything. */
  if (len > 2) {
    struct sim_zcl_attr attrs[16];
    size_t top, total;
    sim_zcl_decode_attrs((uint16_t)(body[0] | body[1] << 8), body + 2, len - 2, attrs, 16, &top,
                         &total);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t chunk = (size_t)(data[0] % 17) + 1;
  data++;
  size--;
  struct sim_frame_reader r;
  sim_frame_reader_init(&r, SIM_FRAME_MAX);
  for (size_t off = 0; off < size; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (sim_frame_reader_feed(&r, data + off, n, on_frame, NULL))
      break; /* a peer sending this would be closed */
  }
  sim_frame_reader_fini(&r);
  return 0;
}

/* ---- seeds ---- */

static void put_seed(const char *dir, const char *name, const struct sim_buf *b) {
  wb_put_seed(dir, name, 16, b); /* whole frames in 17-byte writes */
}

static void write_seeds(const char *dir) {
  struct sim_buf b;
  sim_buf_init(&b);
  wb_deep_report(&b, 8800, 0, 0);
  put_seed(dir, "deep_8800", &b);
  b.len = 0;
  wb_deep_report(&b, SIM_HUBRPC_ATTR_DEPTH_MAX, 1, 0);
  put_seed(dir, "deep_at_limit_long_keys", &b);
  b.len = 0;
  /* A Report at the frame limit: 65536 bytes of body, most of it the raw ZCL frame. */
  static uint8_t zcl[65536];
  zcl[0] = 0x18;
  zcl[2] = 0x0A;
  Hubrpc__V1__Report r = HUBRPC__V1__REPORT__INIT;
  r.seq = 1;
  r.zcl_frame.data = zcl;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_REPORT;
  env.report = &r;
  for (size_t n = 65536; n > 65000; n--) {
    r.zcl_frame.len = n;
    if (hubrpc__v1__envelope__get_packed_size(&env) == SIM_FRAME_MAX)
      break;
  }
  sim_hubrpc_encode(&b, &env);
  put_seed(dir, "report_at_limit", &b);
  b.len = 0;
  /* 10,000 Attributes side by side. */
  enum { N = 10000 };
  static Hubrpc__V1__Attribute at[N], *pat[N];
  static const Hubrpc__V1__Attribute init = HUBRPC__V1__ATTRIBUTE__INIT;
  for (size_t i = 0; i < N; i++) {
    at[i] = init;
    at[i].id = (uint32_t)i;
    pat[i] = &at[i];
  }
  r.zcl_frame.len = 3;
  r.n_attributes = N;
  r.attributes = pat;
  sim_hubrpc_encode(&b, &env);
  put_seed(dir, "attributes_10000", &b);
  sim_buf_fini(&b);
}

FUZZ_SEEDS_ON_INIT(write_seeds)
