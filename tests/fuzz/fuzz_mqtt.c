/* Fuzzes the MQTT decoder as a broker's bytes reach it: the stream reader with the default
 * packet limit (256 KiB), fed in pieces split at points drawn from the input itself, for MQTT
 * 3.1.1 or 5 (the first byte's low bit chooses; its second bit sets a 512-byte limit with
 * oversized PUBLISHes skipped, skip_big). Every packet decoded is walked (its list) and encoded
 * again; what the encoder accepts, the decoder must accept: an encoder writing bytes its own
 * decoder refuses aborts. Inputs reach the packet limit (fuzz_mqtt.args).
 *
 * With HUBSIM_FUZZ_SEEDS=DIR set, the target writes its seed inputs into DIR and exits (how
 * tests/fuzz/corpus/mqtt/ was made). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/mqtt/codec.h"

#include "fuzz_seeds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_packet(void *arg, const struct sim_mqtt_packet *pkt) {
  int version = *(const int *)arg;
  if (pkt->oversized) { /* skip_big: only a PUBLISH's head, above the limit */
    if (pkt->type != SIM_MQTT_PUBLISH || pkt->oversized <= 512 || pkt->payload_len)
      abort();
    return 0;
  }
  size_t off = 0, n = 0;
  struct sim_mqtt_bytes f;
  uint8_t o;
  while (sim_mqtt_list_next(pkt, &off, &f, &o))
    n++;
  if (pkt->list && n != pkt->count)
    abort(); /* the walk disagrees with the decoder's count */
  if (pkt->type == SIM_MQTT_CONNECT)
    version = pkt->connect.level;
  struct sim_buf b;
  sim_buf_init(&b);
  if (sim_mqtt_encode(&b, pkt, version) == 0) {
    struct sim_mqtt_packet again;
    enum sim_mqtt_perr why;
    if (sim_mqtt_decode(b.data, b.len, version, &again, &why) != 0 || again.type != pkt->type)
      abort();
  }
  sim_buf_fini(&b);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  int version = data[0] & 1 ? SIM_MQTT_V5 : SIM_MQTT_V311;
  uint32_t x = (uint32_t)data[0] << 8 | data[1] | 1u; /* xorshift state for the split points */
  data += 2;
  size -= 2;
  struct sim_mqtt_reader r;
  /* The second bit: a small limit with oversized PUBLISHes skipped, as the platform's listener
   * reads its broker. */
  int skip = (data[-2] & 2) != 0;
  sim_mqtt_reader_init(&r, skip ? 512 : 0, version);
  r.skip_big = skip;
  size_t off = 0;
  while (off < size) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    size_t chunk = (x & 0x100) ? (x % 4096) + 1 : (x % 7) + 1;
    size_t n = size - off < chunk ? size - off : chunk;
    if (sim_mqtt_reader_feed(&r, data + off, n, on_packet, &version))
      break; /* a broker sending this would be dropped */
    if (r.pending.len > (skip ? 5 + 2 + 65535 + 2 : r.max))
      abort(); /* more held than a packet (or an oversized PUBLISH's head) may need */
    off += n;
  }
  sim_mqtt_reader_fini(&r);
  return 0;
}

/* ---- seeds ---- */

static void put_seed(const char *dir, const char *name, uint8_t ctl, const struct sim_buf *b) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f)
    exit(1);
  uint8_t hdr[2] = {ctl, 0x5A};
  fwrite(hdr, 1, 2, f);
  fwrite(b->data, 1, b->len, f);
  fclose(f);
}

#define STR(s) ((struct sim_mqtt_bytes){(const uint8_t *)(s), (uint16_t)strlen(s)})

static void write_seeds(const char *dir) {
  struct sim_buf b, list;
  sim_buf_init(&b);
  sim_buf_init(&list);
  for (int v = 4; v <= 5; v++) {
    b.len = 0;
    struct sim_mqtt_packet p = {.type = SIM_MQTT_CONNACK};
    if (v == 5) {
      sim_mqtt_set(&p.props, SIM_MQTT_P_RECEIVE_MAX);
      sim_mqtt_set(&p.props, SIM_MQTT_P_TOPIC_ALIAS_MAX);
      sim_mqtt_set(&p.props, SIM_MQTT_P_REASON_STRING);
      p.props.receive_max = 10;
      p.props.topic_alias_max = 5;
      p.props.reason_string = STR("ok");
    }
    sim_mqtt_encode(&b, &p, v);
    struct sim_mqtt_packet pub = {.type = SIM_MQTT_PUBLISH, .qos = 1, .packet_id = 3};
    pub.topic = STR("hubs/1/down");
    pub.payload = (const uint8_t *)"payload";
    pub.payload_len = 7;
    sim_mqtt_encode(&b, &pub, v);
    pub.qos = 2;
    pub.dup = 1;
    sim_mqtt_encode(&b, &pub, v);
    struct sim_mqtt_packet ack = {.type = SIM_MQTT_PUBACK, .packet_id = 1};
    sim_mqtt_encode(&b, &ack, v);
    ack.type = SIM_MQTT_PUBREC;
    sim_mqtt_encode(&b, &ack, v);
    ack.type = SIM_MQTT_PUBCOMP;
    sim_mqtt_encode(&b, &ack, v);
    list.len = 0;
    uint8_t codes[] = {0, 1, 2, 0x80};
    struct sim_mqtt_packet sa = {.type = SIM_MQTT_SUBACK, .packet_id = 2, .list = codes};
    sa.list_len = 4;
    sim_mqtt_encode(&b, &sa, v);
    struct sim_mqtt_packet ping = {.type = SIM_MQTT_PINGRESP};
    sim_mqtt_encode(&b, &ping, v);
    struct sim_mqtt_packet disc = {.type = SIM_MQTT_DISCONNECT, .reason = v == 5 ? 0x8E : 0};
    sim_mqtt_encode(&b, &disc, v);
    put_seed(dir, v == 5 ? "session_v5" : "session_v311", (uint8_t)(v == 5), &b);
  }
  /* A PUBLISH at the packet limit, and one byte over it. */
  static uint8_t big[SIM_MQTT_PACKET_DEFAULT];
  struct sim_mqtt_packet pub = {.type = SIM_MQTT_PUBLISH, .topic = STR("t")};
  pub.payload = big;
  pub.payload_len = SIM_MQTT_PACKET_DEFAULT - 4 - 3;
  b.len = 0;
  sim_mqtt_encode(&b, &pub, 4);
  put_seed(dir, "publish_at_limit", 0, &b);
  b.len = 0;
  pub.payload_len++;
  sim_mqtt_encode(&b, &pub, 4);
  put_seed(dir, "publish_over_limit", 0, &b);
  /* skip_big (512-byte limit): QoS 1 and QoS 0 PUBLISHes above it between packets under it. */
  b.len = 0;
  pub.qos = 1;
  pub.packet_id = 5;
  pub.payload_len = 2000;
  sim_mqtt_encode(&b, &pub, 4);
  struct sim_mqtt_packet pingresp = {.type = SIM_MQTT_PINGRESP};
  sim_mqtt_encode(&b, &pingresp, 4);
  pub.qos = 0;
  pub.payload_len = 600;
  sim_mqtt_encode(&b, &pub, 4);
  struct sim_mqtt_packet puback = {.type = SIM_MQTT_PUBACK, .packet_id = 5};
  sim_mqtt_encode(&b, &puback, 4);
  put_seed(dir, "skip_oversized", 2, &b);
  sim_buf_fini(&list);
  sim_buf_fini(&b);
}

FUZZ_SEEDS_ON_INIT(write_seeds)
