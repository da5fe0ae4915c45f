/* Fuzzes what a peer controls first: the varint framing, the Envelope decoder, and the ZCL
 * attribute decoder that reads frames from devices. The input is split into chunks at sizes
 * taken from its first byte, so that reassembly across reads is exercised as well. */
#include <stddef.h>
#include <stdint.h>

#include "sim/core/err.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"
#include "sim/wire/zcl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_frame(void *arg, const uint8_t *body, size_t len) {
  (void)arg;
  sim_env *env = NULL;
  int rc = sim_hubrpc_decode(body, len, &env);
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
