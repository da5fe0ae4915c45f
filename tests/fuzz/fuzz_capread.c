/* Fuzzes the reader of hubsim's captures (recorders/capture_read.c) as `hubsim replay` uses it:
 * the pcapng blocks, the IPv4/TCP packets in them, each connection's streams put together, and
 * the hubrpc frames split out of both directions and decoded. Whatever the bytes, the reader
 * must end with a capture or an error naming an offset, never read outside the input, and the
 * streams it hands back must hold exactly the bytes their marks count. Inputs reach twice the
 * block limit (REC_CAPREAD_BLOCK_MAX, 128 KiB: fuzz_capread.args), so that a block at the limit
 * and one above it are both tried. The seed (tests/fuzz/corpus/capread/) is a real capture of a
 * 2-hub run. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "recorders/capture_read.h"
#include "sim/core/err.h"
#include "sim/wire/hubrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_frame(void *arg, const struct rec_capread_frame *fr) {
  size_t *n = arg;
  sim_envelope *env = NULL;
  if (sim_hubrpc_decode(fr->body, fr->len, &env) == 0)
    sim_hubrpc_free(env);
  (*n)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rec_capread *r = NULL;
  char why[512];
  int rc = rec_capread_mem(data, size, "fuzz", &r, why, sizeof why);
  if (rc) {
    if (rc != SIM_EMALFORMED && rc != SIM_ENOMEM)
      abort(); /* the only outcomes of bytes in memory */
    return 0;
  }
  if (r->end_off > size || (r->truncated != (r->end_off < size)))
    abort();
  for (size_t i = 0; i < r->n_conns; i++) {
    for (int d = 0; d < 2; d++) {
      const struct rec_capread_stream *s = &r->conns[i]->dir[d];
      for (size_t k = 0; k < s->n_marks; k++)
        if (s->marks[k].off >= s->bytes.len || (k && s->marks[k].off <= s->marks[k - 1].off))
          abort();
      size_t frames = 0, tail = 0;
      uint64_t bad = 0;
      rec_capread_frames(s, on_frame, &frames, &tail, &bad);
      if (tail > s->bytes.len)
        abort();
    }
  }
  rec_capread_free(r);
  return 0;
}
