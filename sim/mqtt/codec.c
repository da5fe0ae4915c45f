/* The MQTT packet codec: fixed header, each packet's variable header and payload, and the
 * stream reader. Section numbers refer to MQTT 3.1.1 (OASIS, 2014) and MQTT 5.0 (OASIS, 2019).
 *
 * The encoder writes a packet's body after five bytes of room, then writes the fixed header
 * (whose remaining length it now knows) right before the body and moves the body down: one
 * pass, no size computation that could disagree with what is written. */
#include <string.h>

#include "sim/core/err.h"
#include "sim/mqtt/codec_internal.h"

/* ---- encoding ---- */

static int put_u8(struct sim_buf *b, uint8_t v) {
  return sim_buf_append(b, &v, 1);
}

static int put_u16(struct sim_buf *b, uint16_t v) {
  uint8_t q[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return sim_buf_append(b, q, 2);
}

static int put_bin(struct sim_buf *b, struct sim_mqtt_bytes s) {
  if (s.n && !s.p)
    return SIM_EINVAL;
  int rc = put_u16(b, s.n);
  return rc || s.n == 0 ? rc : sim_buf_append(b, s.p, s.n);
}

static int put_str(struct sim_buf *b, struct sim_mqtt_bytes s) {
  if (s.n && !s.p)
    return SIM_EINVAL;
  if (!sim__mqtt_utf8_ok(s.p, s.n))
    return SIM_EINVAL;
  return put_bin(b, s);
}

/* A topic name (not a filter): UTF-8 without the wildcards + and # (3.1.1 4.7.1, 5.0 4.7.1). */
static int topic_name_ok(const uint8_t *p, size_t n) {
  if (n == 0)
    return 1;
  return memchr(p, '+', n) == NULL && memchr(p, '#', n) == NULL;
}

static int enc_connect(struct sim_buf *b, const struct sim_mqtt_packet *pkt, int version) {
  const struct sim_mqtt_connect *c = &pkt->connect;
  if (c->will_qos > 2 || (!c->will && (c->will_qos || c->will_retain)) ||
      (version == SIM_MQTT_V311 && c->has_password && !c->has_username))
    return SIM_EINVAL;
  if (c->will && (c->will_topic.n == 0 || !topic_name_ok(c->will_topic.p, c->will_topic.n)))
    return SIM_EINVAL;
  static const uint8_t name[6] = {0, 4, 'M', 'Q', 'T', 'T'};
  uint8_t flags = (uint8_t)((c->has_username ? 0x80 : 0) | (c->has_password ? 0x40 : 0) |
                            (c->will_retain ? 0x20 : 0) | c->will_qos << 3 | (c->will ? 0x04 : 0) |
                            (c->clean ? 0x02 : 0));
  int rc = sim_buf_append(b, name, sizeof name);
  if (!rc)
    rc = put_u8(b, (uint8_t)version);
  if (!rc)
    rc = put_u8(b, flags);
  if (!rc)
    rc = put_u16(b, c->keepalive);
  if (!rc && version == SIM_MQTT_V5)
    rc = sim__mqtt_props_encode(b, SIM_MQTT_CONNECT, &pkt->props);
  if (!rc)
    rc = put_str(b, c->client_id);
  if (!rc && c->will && version == SIM_MQTT_V5)
    rc = sim__mqtt_props_encode(b, SIM__MQTT_WILL, &c->will_props);
  if (!rc && c->will)
    rc = put_str(b, c->will_topic);
  if (!rc && c->will)
    rc = put_bin(b, c->will_payload);
  if (!rc && c->has_username)
    rc = put_str(b, c->username);
  if (!rc && c->has_password)
    rc = put_bin(b, c->password);
  return rc;
}

static int enc_publish(struct sim_buf *b, const struct sim_mqtt_packet *pkt, int version) {
  if (pkt->qos > 2 || (pkt->dup && pkt->qos == 0) || (pkt->qos && pkt->packet_id == 0))
    return SIM_EINVAL;
  if (!topic_name_ok(pkt->topic.p, pkt->topic.n))
    return SIM_EINVAL;
  if (pkt->topic.n == 0 &&
      (version != SIM_MQTT_V5 || !sim_mqtt_has(&pkt->props, SIM_MQTT_P_TOPIC_ALIAS)))
    return SIM_EINVAL;
  if (pkt->payload_len && !pkt->payload)
    return SIM_EINVAL;
  int rc = put_str(b, pkt->topic);
  if (!rc && pkt->qos)
    rc = put_u16(b, pkt->packet_id);
  if (!rc && version == SIM_MQTT_V5)
    rc = sim__mqtt_props_encode(b, SIM_MQTT_PUBLISH, &pkt->props);
  if (!rc && pkt->payload_len)
    rc = sim_buf_append(b, pkt->payload, pkt->payload_len);
  return rc;
}

/* The tail of PUBACK..PUBCOMP, DISCONNECT and AUTH in 5: reason code and properties, each left
 * out when it is the default (5.0 3.4.2.1, 3.14.2.1). */
static int enc_reason_tail(struct sim_buf *b, const struct sim_mqtt_packet *pkt, int version) {
  if (version != SIM_MQTT_V5) {
    if (pkt->reason || pkt->props.present)
      return SIM_EINVAL;
    return 0;
  }
  if (!sim_mqtt_reason_valid(pkt->type, version, pkt->reason))
    return SIM_EINVAL;
  if (pkt->reason == 0 && pkt->props.present == 0)
    return 0;
  int rc = put_u8(b, pkt->reason);
  if (!rc && pkt->props.present)
    rc = sim__mqtt_props_encode(b, pkt->type, &pkt->props);
  return rc;
}

/* SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK: packet id, properties in 5, the list. */
static int enc_list(struct sim_buf *b, const struct sim_mqtt_packet *pkt, int version) {
  if (pkt->packet_id == 0 || (pkt->list_len && !pkt->list))
    return SIM_EINVAL;
  int v311_unsuback = pkt->type == SIM_MQTT_UNSUBACK && version != SIM_MQTT_V5;
  if (v311_unsuback ? pkt->list_len != 0 : pkt->list_len == 0)
    return SIM_EINVAL;
  if (pkt->type == SIM_MQTT_SUBACK || pkt->type == SIM_MQTT_UNSUBACK)
    for (size_t i = 0; i < pkt->list_len; i++)
      if (!sim_mqtt_reason_valid(pkt->type, version, pkt->list[i]))
        return SIM_EINVAL;
  int rc = put_u16(b, pkt->packet_id);
  if (!rc && version == SIM_MQTT_V5)
    rc = sim__mqtt_props_encode(b, pkt->type, &pkt->props);
  if (!rc && pkt->list_len)
    rc = sim_buf_append(b, pkt->list, pkt->list_len);
  return rc;
}

static int enc_body(struct sim_buf *b, const struct sim_mqtt_packet *pkt, int version) {
  switch (pkt->type) {
  case SIM_MQTT_CONNECT:
    return enc_connect(b, pkt, version);
  case SIM_MQTT_CONNACK: {
    if (!sim_mqtt_reason_valid(SIM_MQTT_CONNACK, version, pkt->reason) ||
        (pkt->reason && pkt->session_present))
      return SIM_EINVAL;
    uint8_t q[2] = {pkt->session_present ? 1 : 0, pkt->reason};
    int rc = sim_buf_append(b, q, 2);
    if (!rc && version == SIM_MQTT_V5)
      rc = sim__mqtt_props_encode(b, SIM_MQTT_CONNACK, &pkt->props);
    return rc;
  }
  case SIM_MQTT_PUBLISH:
    return enc_publish(b, pkt, version);
  case SIM_MQTT_PUBACK:
  case SIM_MQTT_PUBREC:
  case SIM_MQTT_PUBREL:
  case SIM_MQTT_PUBCOMP: {
    if (pkt->packet_id == 0)
      return SIM_EINVAL;
    int rc = put_u16(b, pkt->packet_id);
    return rc ? rc : enc_reason_tail(b, pkt, version);
  }
  case SIM_MQTT_SUBSCRIBE:
  case SIM_MQTT_SUBACK:
  case SIM_MQTT_UNSUBSCRIBE:
  case SIM_MQTT_UNSUBACK:
    return enc_list(b, pkt, version);
  case SIM_MQTT_PINGREQ:
  case SIM_MQTT_PINGRESP:
    return 0;
  case SIM_MQTT_DISCONNECT:
    return enc_reason_tail(b, pkt, version);
  case SIM_MQTT_AUTH:
    return version == SIM_MQTT_V5 ? enc_reason_tail(b, pkt, version) : SIM_EINVAL;
  default:
    return SIM_EINVAL;
  }
}

/* The fixed header's low four bits (3.1.1 2.2.2, 5.0 2.1.3). */
static uint8_t fixed_flags(const struct sim_mqtt_packet *pkt) {
  switch (pkt->type) {
  case SIM_MQTT_PUBLISH:
    return (uint8_t)((pkt->dup ? 8 : 0) | pkt->qos << 1 | (pkt->retain ? 1 : 0));
  case SIM_MQTT_PUBREL:
  case SIM_MQTT_SUBSCRIBE:
  case SIM_MQTT_UNSUBSCRIBE:
    return 2;
  default:
    return 0;
  }
}

int sim_mqtt_encode(struct sim_buf *out, const struct sim_mqtt_packet *pkt, int version) {
  if (version != SIM_MQTT_V311 && version != SIM_MQTT_V5)
    return SIM_EINVAL;
  size_t start = out->len;
  static const uint8_t room[5];
  int rc = sim_buf_append(out, room, sizeof room);
  if (!rc)
    rc = enc_body(out, pkt, version);
  size_t body = out->len - start - sizeof room;
  if (!rc && body > SIM_MQTT_PACKET_LIMIT - 5)
    rc = SIM_EINVAL;
  if (rc) {
    out->len = start;
    return rc;
  }
  uint8_t hdr[5];
  hdr[0] = (uint8_t)(pkt->type << 4 | fixed_flags(pkt));
  size_t hlen = 1 + sim__mqtt_put_varint(hdr + 1, (uint32_t)body);
  memmove(out->data + start + hlen, out->data + start + sizeof room, body);
  memcpy(out->data + start, hdr, hlen);
  out->len = start + hlen + body;
  return 0;
}

int sim_mqtt_list_add(struct sim_buf *list, const char *filter, int options) {
  size_t n = strlen(filter);
  if (n == 0 || n > 65535 || !sim__mqtt_utf8_ok((const uint8_t *)filter, n) || options > 0xFF)
    return SIM_EINVAL;
  size_t start = list->len;
  uint8_t q[2] = {(uint8_t)(n >> 8), (uint8_t)n};
  int rc = sim_buf_append(list, q, 2);
  if (!rc)
    rc = sim_buf_append(list, filter, n);
  if (!rc && options >= 0)
    rc = put_u8(list, (uint8_t)options);
  if (rc)
    list->len = start;
  return rc;
}

/* ---- decoding ---- */

int sim_mqtt_peek(const uint8_t *p, size_t n, size_t max, size_t *total, enum sim_mqtt_perr *why) {
  if (n < 1)
    return SIM_EAGAIN;
  if ((p[0] >> 4) == 0) {
    *why = SIM_MQTT_PE_TYPE;
    return SIM_EMALFORMED;
  }
  uint32_t rem = 0;
  for (unsigned i = 0; i < 4; i++) {
    if (1 + i >= n)
      return SIM_EAGAIN;
    uint8_t b = p[1 + i];
    rem |= (uint32_t)(b & 0x7F) << (7 * i);
    if (!(b & 0x80)) {
      size_t t = 2 + i + (size_t)rem;
      if (t > max) {
        *why = SIM_MQTT_PE_TOOBIG;
        return SIM_ETOOBIG;
      }
      *total = t;
      return 0;
    }
  }
  *why = SIM_MQTT_PE_VARINT;
  return SIM_EMALFORMED;
}

/* The flags each packet type must carry in the fixed header (PUBLISH checks its own). */
static int flags_ok(uint8_t type, uint8_t flags) {
  if (type == SIM_MQTT_PUBLISH)
    return 1;
  if (type == SIM_MQTT_PUBREL || type == SIM_MQTT_SUBSCRIBE || type == SIM_MQTT_UNSUBSCRIBE)
    return flags == 2;
  return flags == 0;
}

static int dec_topic_name(struct sim__mqtt_rd *rd, struct sim_mqtt_bytes *t) {
  int rc = sim__mqtt_rd_str(rd, t);
  if (!rc && !topic_name_ok(t->p, t->n))
    rc = sim__mqtt_fail(rd, SIM_MQTT_PE_TOPIC);
  return rc;
}

static int dec_connect(struct sim__mqtt_rd *rd, struct sim_mqtt_packet *pkt) {
  struct sim_mqtt_connect *c = &pkt->connect;
  struct sim_mqtt_bytes name;
  uint8_t flags;
  int rc = sim__mqtt_rd_str(rd, &name);
  if (!rc)
    rc = sim__mqtt_rd_u8(rd, &c->level);
  if (rc)
    return rc;
  if (name.n != 4 || memcmp(name.p, "MQTT", 4) != 0 ||
      (c->level != SIM_MQTT_V311 && c->level != SIM_MQTT_V5))
    return sim__mqtt_fail(rd, SIM_MQTT_PE_PROTOCOL);
  if ((rc = sim__mqtt_rd_u8(rd, &flags)) || (rc = sim__mqtt_rd_u16(rd, &c->keepalive)))
    return rc;
  c->has_username = flags >> 7 & 1;
  c->has_password = flags >> 6 & 1;
  c->will_retain = flags >> 5 & 1;
  c->will_qos = flags >> 3 & 3;
  c->will = flags >> 2 & 1;
  c->clean = flags >> 1 & 1;
  if (c->will_qos == 3)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_QOS);
  /* 3.1.2.3 (reserved bit), 3.1.2.11/3.1.2.15 (will QoS, retain without a will), 3.1.2.22 in
   * 3.1.1 only (a password without a user name). */
  if ((flags & 1) || (!c->will && (c->will_qos || c->will_retain)) ||
      (c->level == SIM_MQTT_V311 && c->has_password && !c->has_username))
    return sim__mqtt_fail(rd, SIM_MQTT_PE_CONNECT_FLAGS);
  if (c->level == SIM_MQTT_V5 && (rc = sim__mqtt_props_decode(rd, SIM_MQTT_CONNECT, &pkt->props)))
    return rc;
  if ((rc = sim__mqtt_rd_str(rd, &c->client_id)))
    return rc;
  if (c->will) {
    if (c->level == SIM_MQTT_V5 &&
        (rc = sim__mqtt_props_decode(rd, SIM__MQTT_WILL, &c->will_props)))
      return rc;
    if ((rc = dec_topic_name(rd, &c->will_topic)) || (rc = sim__mqtt_rd_bin(rd, &c->will_payload)))
      return rc;
    if (c->will_topic.n == 0)
      return sim__mqtt_fail(rd, SIM_MQTT_PE_TOPIC);
  }
  if (c->has_username && (rc = sim__mqtt_rd_str(rd, &c->username)))
    return rc;
  if (c->has_password && (rc = sim__mqtt_rd_bin(rd, &c->password)))
    return rc;
  return 0;
}

static int dec_connack(struct sim__mqtt_rd *rd, struct sim_mqtt_packet *pkt, int version) {
  uint8_t flags;
  int rc = sim__mqtt_rd_u8(rd, &flags);
  if (!rc)
    rc = sim__mqtt_rd_u8(rd, &pkt->reason);
  if (rc)
    return rc;
  pkt->session_present = flags & 1;
  /* 3.2.2.1 / 5.0 3.2.2.1.1: reserved bits; no session present on a refusal. */
  if ((flags & 0xFE) || (pkt->reason && pkt->session_present))
    return sim__mqtt_fail(rd, SIM_MQTT_PE_ACK_FLAGS);
  if (!sim_mqtt_reason_valid(SIM_MQTT_CONNACK, version, pkt->reason))
    return sim__mqtt_fail(rd, SIM_MQTT_PE_REASON);
  if (version == SIM_MQTT_V5)
    return sim__mqtt_props_decode(rd, SIM_MQTT_CONNACK, &pkt->props);
  return 0;
}

static int dec_publish(struct sim__mqtt_rd *rd, struct sim_mqtt_packet *pkt, uint8_t flags,
                       int version) {
  pkt->dup = flags >> 3 & 1;
  pkt->qos = flags >> 1 & 3;
  pkt->retain = flags & 1;
  if (pkt->qos == 3)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_QOS);
  if (pkt->dup && pkt->qos == 0) /* 3.3.1.1: DUP is 0 on every QoS 0 message */
    return sim__mqtt_fail(rd, SIM_MQTT_PE_FLAGS);
  int rc = dec_topic_name(rd, &pkt->topic);
  if (!rc && pkt->qos)
    rc = sim__mqtt_rd_u16(rd, &pkt->packet_id);
  if (rc)
    return rc;
  if (pkt->qos && pkt->packet_id == 0)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_PACKET_ID);
  if (version == SIM_MQTT_V5 && (rc = sim__mqtt_props_decode(rd, SIM_MQTT_PUBLISH, &pkt->props)))
    return rc;
  /* An empty topic only with a topic alias (5.0 3.3.2.3.4). */
  if (pkt->topic.n == 0 && !sim_mqtt_has(&pkt->props, SIM_MQTT_P_TOPIC_ALIAS))
    return sim__mqtt_fail(rd, SIM_MQTT_PE_TOPIC);
  pkt->payload = rd->p + rd->off;
  pkt->payload_len = rd->n - rd->off;
  rd->off = rd->n;
  return 0;
}

/* Reason code and properties of PUBACK..PUBCOMP, DISCONNECT, AUTH in 5, each optional at the end
 * of the packet (5.0 3.4.2.1, 3.14.2.1, 3.15.2.1). */
static int dec_reason_tail(struct sim__mqtt_rd *rd, struct sim_mqtt_packet *pkt, int version) {
  if (version != SIM_MQTT_V5 || rd->off == rd->n)
    return 0;
  int rc = sim__mqtt_rd_u8(rd, &pkt->reason);
  if (rc)
    return rc;
  if (!sim_mqtt_reason_valid(pkt->type, version, pkt->reason))
    return sim__mqtt_fail(rd, SIM_MQTT_PE_REASON);
  if (rd->off == rd->n)
    return 0;
  return sim__mqtt_props_decode(rd, pkt->type, &pkt->props);
}

/* One entry of a decoded list, by the list's packet type. */
static int list_entry(struct sim__mqtt_rd *rd, const struct sim_mqtt_packet *pkt,
                      struct sim_mqtt_bytes *filter, uint8_t *options) {
  struct sim_mqtt_bytes f = {0};
  uint8_t o = 0;
  int rc = 0;
  if (pkt->type == SIM_MQTT_SUBSCRIBE || pkt->type == SIM_MQTT_UNSUBSCRIBE) {
    rc = sim__mqtt_rd_str(rd, &f);
    if (!rc && f.n == 0)
      rc = sim__mqtt_fail(rd, SIM_MQTT_PE_TOPIC);
  }
  if (!rc && pkt->type != SIM_MQTT_UNSUBSCRIBE)
    rc = sim__mqtt_rd_u8(rd, &o);
  if (filter)
    *filter = f;
  if (options)
    *options = o;
  return rc;
}

/* Checks an entry's options (SUBSCRIBE: 3.1.1 3.8.3.1, 5.0 3.8.3.1) or reason code. */
static int list_entry_ok(struct sim__mqtt_rd *rd, const struct sim_mqtt_packet *pkt, uint8_t o,
                         int version) {
  if (pkt->type == SIM_MQTT_SUBSCRIBE) {
    if ((o & 3) == 3)
      return sim__mqtt_fail(rd, SIM_MQTT_PE_QOS);
    if (version == SIM_MQTT_V5 ? ((o & 0xC0) || (o >> 4 & 3) == 3) : (o & 0xFC) != 0)
      return sim__mqtt_fail(rd, SIM_MQTT_PE_SUB_OPTIONS);
  } else if (pkt->type != SIM_MQTT_UNSUBSCRIBE && !sim_mqtt_reason_valid(pkt->type, version, o)) {
    return sim__mqtt_fail(rd, SIM_MQTT_PE_REASON);
  }
  return 0;
}

static int dec_list(struct sim__mqtt_rd *rd, struct sim_mqtt_packet *pkt, int version) {
  int rc = sim__mqtt_rd_u16(rd, &pkt->packet_id);
  if (rc)
    return rc;
  if (pkt->packet_id == 0)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_PACKET_ID);
  if (version == SIM_MQTT_V5 && (rc = sim__mqtt_props_decode(rd, pkt->type, &pkt->props)))
    return rc;
  if (pkt->type == SIM_MQTT_UNSUBACK && version != SIM_MQTT_V5)
    return 0; /* 3.1.1 3.11: no payload */
  pkt->list = rd->p + rd->off;
  pkt->list_len = rd->n - rd->off;
  while (rd->off < rd->n) {
    uint8_t o;
    if ((rc = list_entry(rd, pkt, NULL, &o)) || (rc = list_entry_ok(rd, pkt, o, version)))
      return rc;
    pkt->count++;
  }
  if (pkt->count == 0)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_EMPTY_LIST);
  return 0;
}

static int dec_body(struct sim__mqtt_rd *rd, struct sim_mqtt_packet *pkt, uint8_t flags,
                    int version) {
  switch (pkt->type) {
  case SIM_MQTT_CONNECT:
    return dec_connect(rd, pkt);
  case SIM_MQTT_CONNACK:
    return dec_connack(rd, pkt, version);
  case SIM_MQTT_PUBLISH:
    return dec_publish(rd, pkt, flags, version);
  case SIM_MQTT_PUBACK:
  case SIM_MQTT_PUBREC:
  case SIM_MQTT_PUBREL:
  case SIM_MQTT_PUBCOMP: {
    int rc = sim__mqtt_rd_u16(rd, &pkt->packet_id);
    if (rc)
      return rc;
    if (pkt->packet_id == 0)
      return sim__mqtt_fail(rd, SIM_MQTT_PE_PACKET_ID);
    return dec_reason_tail(rd, pkt, version);
  }
  case SIM_MQTT_SUBSCRIBE:
  case SIM_MQTT_SUBACK:
  case SIM_MQTT_UNSUBSCRIBE:
  case SIM_MQTT_UNSUBACK:
    return dec_list(rd, pkt, version);
  case SIM_MQTT_PINGREQ:
  case SIM_MQTT_PINGRESP:
    return 0;
  case SIM_MQTT_DISCONNECT:
    return dec_reason_tail(rd, pkt, version);
  default: /* AUTH */
    if (version != SIM_MQTT_V5)
      return sim__mqtt_fail(rd, SIM_MQTT_PE_VERSION);
    return dec_reason_tail(rd, pkt, version);
  }
}

int sim_mqtt_decode(const uint8_t *p, size_t n, int version, struct sim_mqtt_packet *pkt,
                    enum sim_mqtt_perr *why) {
  memset(pkt, 0, sizeof *pkt);
  size_t total;
  int rc = sim_mqtt_peek(p, n, SIM_MQTT_PACKET_LIMIT, &total, why);
  if (rc == SIM_EAGAIN || (rc == 0 && total > n)) {
    *why = SIM_MQTT_PE_SHORT;
    return SIM_EMALFORMED;
  }
  if (rc)
    return rc;
  if (total < n) {
    *why = SIM_MQTT_PE_TRAILING;
    return SIM_EMALFORMED;
  }
  uint8_t type = p[0] >> 4, flags = p[0] & 0x0F;
  pkt->type = type;
  if (!flags_ok(type, flags)) {
    *why = SIM_MQTT_PE_FLAGS;
    return SIM_EMALFORMED;
  }
  struct sim__mqtt_rd rd = {p, n, 1, SIM_MQTT_PE_NONE};
  while (p[rd.off] & 0x80) /* the remaining length, checked by the peek */
    rd.off++;
  rd.off++;
  rc = dec_body(&rd, pkt, flags, version == SIM_MQTT_V5 ? SIM_MQTT_V5 : SIM_MQTT_V311);
  if (!rc && rd.off != rd.n)
    rc = sim__mqtt_fail(&rd, SIM_MQTT_PE_TRAILING);
  if (rc)
    *why = rd.why;
  return rc;
}

int sim_mqtt_list_next(const struct sim_mqtt_packet *pkt, size_t *off,
                       struct sim_mqtt_bytes *filter, uint8_t *options) {
  if (!pkt->list || *off >= pkt->list_len)
    return 0;
  struct sim__mqtt_rd rd = {pkt->list, pkt->list_len, *off, SIM_MQTT_PE_NONE};
  if (list_entry(&rd, pkt, filter, options))
    return 0;
  *off = rd.off;
  return 1;
}

/* ---- the stream reader ---- */

void sim_mqtt_reader_init(struct sim_mqtt_reader *r, size_t max, int version) {
  sim_buf_init(&r->pending);
  r->max = max == 0                      ? SIM_MQTT_PACKET_DEFAULT
           : max > SIM_MQTT_PACKET_LIMIT ? SIM_MQTT_PACKET_LIMIT
                                         : max;
  r->version = version;
  r->why = SIM_MQTT_PE_NONE;
  r->type_seen = 0;
  r->skip_big = 0;
  r->big = 0;
  r->big_left = 0;
}

void sim_mqtt_reader_fini(struct sim_mqtt_reader *r) {
  sim_buf_fini(&r->pending);
}

static int deliver(struct sim_mqtt_reader *r, const uint8_t *p, size_t n, sim_mqtt_packet_cb cb,
                   void *arg) {
  struct sim_mqtt_packet pkt;
  r->type_seen = p[0] >> 4;
  int rc = sim_mqtt_decode(p, n, r->version, &pkt, &r->why);
  return rc ? rc : cb(arg, &pkt);
}

static void pending_drop(struct sim_mqtt_reader *r) {
  r->pending.len = 0;
  if (r->pending.cap > 4096) {
    sim_buf_fini(&r->pending);
    sim_buf_init(&r->pending);
  }
}

/* 1 when a packet starting with b (its fixed header complete or not) is one skip_big lets
 * through: an oversized PUBLISH. */
static int big_ok(const struct sim_mqtt_reader *r, int rc, uint8_t b) {
  return rc == SIM_ETOOBIG && r->skip_big && (b >> 4) == SIM_MQTT_PUBLISH;
}

/* How many bytes of an oversized PUBLISH's head pending must hold before the next step: one
 * more while the fixed header is incomplete, then up to the topic's length, then up to the
 * packet id. *done is 1 when the head is whole (*total its packet's size, *hl the fixed header's
 * length). SIM_EMALFORMED when the head does not fit the packet or the QoS is 3. */
static int big_need(struct sim_mqtt_reader *r, size_t *need, size_t *total, size_t *hl, int *done) {
  const struct sim_buf *pb = &r->pending;
  *done = 0;
  int rc = sim_mqtt_peek(pb->data, pb->len, SIM_MQTT_PACKET_LIMIT, total, &r->why);
  if (rc == SIM_EAGAIN) {
    *need = pb->len + 1;
    return 0;
  }
  if (rc)
    return rc;
  *hl = 2;
  while (pb->data[*hl - 1] & 0x80)
    (*hl)++;
  uint8_t qos = (pb->data[0] >> 1) & 3;
  if (qos == 3) {
    r->why = SIM_MQTT_PE_QOS;
    return SIM_EMALFORMED;
  }
  if (pb->len < *hl + 2) {
    *need = *hl + 2;
    return 0;
  }
  *need = *hl + 2 + ((size_t)pb->data[*hl] << 8 | pb->data[*hl + 1]) + (qos ? 2 : 0);
  if (*need > *total) {
    r->why = SIM_MQTT_PE_SHORT;
    return SIM_EMALFORMED;
  }
  *done = pb->len >= *need;
  return 0;
}

/* Reads an oversized PUBLISH's head from p into pending; once whole, delivers it with
 * pkt.oversized and leaves the rest of the packet to discard. Consumes what it reads. */
static int big_head(struct sim_mqtt_reader *r, const uint8_t **p, size_t *n, sim_mqtt_packet_cb cb,
                    void *arg) {
  struct sim_buf *pb = &r->pending;
  size_t need, total = 0, hl = 0;
  int done = 0, rc;
  while (!(rc = big_need(r, &need, &total, &hl, &done)) && !done) {
    if (*n == 0)
      return 0;
    size_t take = need - pb->len < *n ? need - pb->len : *n;
    if ((rc = sim_buf_append(pb, *p, take)))
      return rc;
    *p += take;
    *n -= take;
  }
  if (rc) {
    r->type_seen = SIM_MQTT_PUBLISH;
    return rc;
  }
  struct sim_mqtt_packet pkt;
  memset(&pkt, 0, sizeof pkt);
  const uint8_t *d = pb->data;
  pkt.type = SIM_MQTT_PUBLISH;
  pkt.qos = (d[0] >> 1) & 3;
  pkt.dup = (d[0] >> 3) & 1;
  pkt.retain = d[0] & 1;
  pkt.topic.p = d + hl + 2;
  pkt.topic.n = (uint16_t)(need - hl - 2 - (pkt.qos ? 2 : 0));
  if (pkt.qos)
    pkt.packet_id = (uint16_t)(d[need - 2] << 8 | d[need - 1]);
  pkt.oversized = total;
  if (pkt.qos && pkt.packet_id == 0) {
    r->type_seen = SIM_MQTT_PUBLISH;
    r->why = SIM_MQTT_PE_PACKET_ID;
    return SIM_EMALFORMED;
  }
  r->big = 0;
  r->big_left = total - need;
  rc = cb(arg, &pkt);
  pending_drop(r);
  return rc;
}

int sim_mqtt_reader_feed(struct sim_mqtt_reader *r, const uint8_t *p, size_t n,
                         sim_mqtt_packet_cb cb, void *arg) {
  while (n > 0) {
    struct sim_buf *pb = &r->pending;
    size_t total = 0;
    if (r->big_left) {
      size_t k = r->big_left < n ? r->big_left : n;
      r->big_left -= k;
      p += k;
      n -= k;
      continue;
    }
    if (r->big) {
      int rc = big_head(r, &p, &n, cb, arg);
      if (rc)
        return rc;
      continue;
    }
    if (pb->len == 0) {
      int rc = sim_mqtt_peek(p, n, r->max, &total, &r->why);
      if (big_ok(r, rc, p[0])) {
        r->big = 1;
        continue;
      }
      if (rc == 0 && total <= n) {
        if ((rc = deliver(r, p, total, cb, arg)))
          return rc;
        p += total;
        n -= total;
        continue;
      }
      if (rc != 0 && rc != SIM_EAGAIN) {
        r->type_seen = p[0] >> 4;
        return rc;
      }
      /* A partial packet (or header): keep it; its size was checked if known. */
      if (rc == 0 && (rc = sim_buf_reserve(pb, total)))
        return rc;
      return sim_buf_append(pb, p, n);
    }
    int rc = sim_mqtt_peek(pb->data, pb->len, r->max, &total, &r->why);
    if (big_ok(r, rc, pb->data[0])) {
      r->big = 1;
      continue;
    }
    if (rc == SIM_EAGAIN) {
      /* The header is still incomplete: take one byte at a time, so that nothing past it is
       * buffered before the size is known. */
      if ((rc = sim_buf_append(pb, p, 1)))
        return rc;
      p++;
      n--;
      continue;
    }
    if (rc) {
      r->type_seen = pb->data[0] >> 4;
      return rc;
    }
    size_t take = total - pb->len < n ? total - pb->len : n;
    if ((rc = sim_buf_reserve(pb, total - pb->len)) || (rc = sim_buf_append(pb, p, take)))
      return rc;
    p += take;
    n -= take;
    if (pb->len == total) {
      rc = deliver(r, pb->data, pb->len, cb, arg);
      pending_drop(r);
      if (rc)
        return rc;
    }
  }
  /* A header completed by the last byte of the input must be checked now, not at the next
   * feed, so that an oversized packet is refused as soon as its size is known. */
  if (r->pending.len) {
    size_t total;
    int rc = sim_mqtt_peek(r->pending.data, r->pending.len, r->max, &total, &r->why);
    if (big_ok(r, rc, r->pending.data[0])) {
      r->big = 1;
      return 0;
    }
    if (rc && rc != SIM_EAGAIN) {
      r->type_seen = r->pending.data[0] >> 4;
      return rc;
    }
    if (rc == 0 && total == r->pending.len) {
      rc = deliver(r, r->pending.data, r->pending.len, cb, arg);
      pending_drop(r);
      return rc;
    }
  }
  return 0;
}
