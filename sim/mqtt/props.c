/* MQTT 5 properties (MQTT 5.0 section 2.2.2.2), reason codes (2.4) and the names of both,
 * and the primitive readers the decoder is built from. */
#include <stddef.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/utf8.h"
#include "sim/mqtt/codec_internal.h"

/* ---- primitive reads ---- */

int sim__mqtt_fail(struct sim__mqtt_rd *rd, enum sim_mqtt_perr why) {
  rd->why = why;
  return SIM_EMALFORMED;
}

int sim__mqtt_rd_u8(struct sim__mqtt_rd *rd, uint8_t *v) {
  if (rd->n - rd->off < 1)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_SHORT);
  *v = rd->p[rd->off++];
  return 0;
}

int sim__mqtt_rd_u16(struct sim__mqtt_rd *rd, uint16_t *v) {
  if (rd->n - rd->off < 2)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_SHORT);
  *v = (uint16_t)(rd->p[rd->off] << 8 | rd->p[rd->off + 1]);
  rd->off += 2;
  return 0;
}

int sim__mqtt_rd_u32(struct sim__mqtt_rd *rd, uint32_t *v) {
  if (rd->n - rd->off < 4)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_SHORT);
  const uint8_t *q = rd->p + rd->off;
  *v = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
  rd->off += 4;
  return 0;
}

int sim__mqtt_rd_varint(struct sim__mqtt_rd *rd, uint32_t *v) {
  uint32_t val = 0;
  for (unsigned i = 0; i < 4; i++) {
    if (rd->off >= rd->n)
      return sim__mqtt_fail(rd, SIM_MQTT_PE_SHORT);
    uint8_t b = rd->p[rd->off++];
    val |= (uint32_t)(b & 0x7F) << (7 * i);
    if (!(b & 0x80)) {
      *v = val;
      return 0;
    }
  }
  return sim__mqtt_fail(rd, SIM_MQTT_PE_VARINT);
}

int sim__mqtt_rd_bin(struct sim__mqtt_rd *rd, struct sim_mqtt_bytes *v) {
  uint16_t len;
  int rc = sim__mqtt_rd_u16(rd, &len);
  if (rc)
    return rc;
  if (rd->n - rd->off < len)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_SHORT);
  v->p = rd->p + rd->off;
  v->n = len;
  rd->off += len;
  return 0;
}

int sim__mqtt_utf8_ok(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (p[i] == 0)
      return 0;
    size_t l = sim_utf8_seq(p + i, n - i);
    if (l == 0)
      return 0;
    i += l;
  }
  return 1;
}

int sim__mqtt_rd_str(struct sim__mqtt_rd *rd, struct sim_mqtt_bytes *v) {
  int rc = sim__mqtt_rd_bin(rd, v);
  if (rc)
    return rc;
  if (!sim__mqtt_utf8_ok(v->p, v->n))
    return sim__mqtt_fail(rd, SIM_MQTT_PE_UTF8);
  return 0;
}

size_t sim__mqtt_varint_len(uint32_t v) {
  return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

size_t sim__mqtt_put_varint(uint8_t *out, uint32_t v) {
  size_t i = 0;
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    out[i++] = (uint8_t)(v ? b | 0x80 : b);
  } while (v && i < 4);
  return i;
}

/* ---- the property table ---- */

enum prop_kind { K_BYTE, K_U16, K_U32, K_VARINT, K_STR, K_BIN, K_PAIR };

#define W(t) (1u << SIM_MQTT_##t)
#define WILL (1u << SIM__MQTT_WILL)
#define ACKS (W(PUBACK) | W(PUBREC) | W(PUBREL) | W(PUBCOMP))

struct prop_def {
  uint8_t id, kind, repeat;
  uint16_t where; /* bit per packet type, bit 0 for a will */
  size_t off;     /* the field of struct sim_mqtt_props that holds the value */
};

#define F(field) offsetof(struct sim_mqtt_props, field)

/* MQTT 5.0 Table 2-4: identifier, type, and the packets that may carry it. */
static const struct prop_def props[] = {
    {SIM_MQTT_P_PAYLOAD_FORMAT, K_BYTE, 0, W(PUBLISH) | WILL, F(payload_format)},
    {SIM_MQTT_P_MESSAGE_EXPIRY, K_U32, 0, W(PUBLISH) | WILL, F(message_expiry)},
    {SIM_MQTT_P_CONTENT_TYPE, K_STR, 0, W(PUBLISH) | WILL, F(content_type)},
    {SIM_MQTT_P_RESPONSE_TOPIC, K_STR, 0, W(PUBLISH) | WILL, F(response_topic)},
    {SIM_MQTT_P_CORRELATION_DATA, K_BIN, 0, W(PUBLISH) | WILL, F(correlation_data)},
    /* Repeats in a PUBLISH a server sends for several matching subscriptions (3.3.2.3.8). */
    {SIM_MQTT_P_SUBSCRIPTION_ID, K_VARINT, 1, W(PUBLISH) | W(SUBSCRIBE), F(sub_id)},
    {SIM_MQTT_P_SESSION_EXPIRY, K_U32, 0, W(CONNECT) | W(CONNACK) | W(DISCONNECT),
     F(session_expiry)},
    {SIM_MQTT_P_ASSIGNED_CLIENT_ID, K_STR, 0, W(CONNACK), F(assigned_client_id)},
    {SIM_MQTT_P_SERVER_KEEPALIVE, K_U16, 0, W(CONNACK), F(server_keepalive)},
    {SIM_MQTT_P_AUTH_METHOD, K_STR, 0, W(CONNECT) | W(CONNACK) | W(AUTH), F(auth_method)},
    {SIM_MQTT_P_AUTH_DATA, K_BIN, 0, W(CONNECT) | W(CONNACK) | W(AUTH), F(auth_data)},
    {SIM_MQTT_P_REQUEST_PROBLEM_INFO, K_BYTE, 0, W(CONNECT), F(request_problem_info)},
    {SIM_MQTT_P_WILL_DELAY, K_U32, 0, WILL, F(will_delay)},
    {SIM_MQTT_P_REQUEST_RESPONSE_INFO, K_BYTE, 0, W(CONNECT), F(request_response_info)},
    {SIM_MQTT_P_RESPONSE_INFO, K_STR, 0, W(CONNACK), F(response_info)},
    {SIM_MQTT_P_SERVER_REFERENCE, K_STR, 0, W(CONNACK) | W(DISCONNECT), F(server_reference)},
    {SIM_MQTT_P_REASON_STRING, K_STR, 0,
     W(CONNACK) | ACKS | W(SUBACK) | W(UNSUBACK) | W(DISCONNECT) | W(AUTH), F(reason_string)},
    {SIM_MQTT_P_RECEIVE_MAX, K_U16, 0, W(CONNECT) | W(CONNACK), F(receive_max)},
    {SIM_MQTT_P_TOPIC_ALIAS_MAX, K_U16, 0, W(CONNECT) | W(CONNACK), F(topic_alias_max)},
    {SIM_MQTT_P_TOPIC_ALIAS, K_U16, 0, W(PUBLISH), F(topic_alias)},
    {SIM_MQTT_P_MAX_QOS, K_BYTE, 0, W(CONNACK), F(max_qos)},
    {SIM_MQTT_P_RETAIN_AVAILABLE, K_BYTE, 0, W(CONNACK), F(retain_available)},
    {SIM_MQTT_P_USER, K_PAIR, 1, 0xFFFEu | WILL, F(user_key)},
    {SIM_MQTT_P_MAX_PACKET_SIZE, K_U32, 0, W(CONNECT) | W(CONNACK), F(max_packet_size)},
    {SIM_MQTT_P_WILDCARD_SUB, K_BYTE, 0, W(CONNACK), F(wildcard_sub)},
    {SIM_MQTT_P_SUB_ID_AVAILABLE, K_BYTE, 0, W(CONNACK), F(sub_id_available)},
    {SIM_MQTT_P_SHARED_SUB, K_BYTE, 0, W(CONNACK), F(shared_sub)},
};
#define N_PROPS (sizeof props / sizeof props[0])

static const struct prop_def *prop_find(uint32_t id) {
  for (size_t i = 0; i < N_PROPS; i++)
    if (props[i].id == id)
      return &props[i];
  return NULL;
}

/* The value of one property, whatever its kind. */
struct prop_val {
  uint32_t u;
  struct sim_mqtt_bytes a, b;
};

static int prop_read(struct sim__mqtt_rd *rd, int kind, struct prop_val *v) {
  uint8_t b8;
  uint16_t b16;
  int rc;
  switch (kind) {
  case K_BYTE:
    rc = sim__mqtt_rd_u8(rd, &b8);
    v->u = b8;
    return rc;
  case K_U16:
    rc = sim__mqtt_rd_u16(rd, &b16);
    v->u = b16;
    return rc;
  case K_U32:
    return sim__mqtt_rd_u32(rd, &v->u);
  case K_VARINT:
    return sim__mqtt_rd_varint(rd, &v->u);
  case K_STR:
    return sim__mqtt_rd_str(rd, &v->a);
  case K_BIN:
    return sim__mqtt_rd_bin(rd, &v->a);
  default:
    rc = sim__mqtt_rd_str(rd, &v->a);
    return rc ? rc : sim__mqtt_rd_str(rd, &v->b);
  }
}

/* 1 when the value is in the range its property allows (MQTT 5.0 3.1.2.11, 3.2.2.3, 3.3.2.3). */
static int prop_value_ok(uint8_t id, uint32_t u) {
  switch (id) {
  case SIM_MQTT_P_PAYLOAD_FORMAT:
  case SIM_MQTT_P_REQUEST_PROBLEM_INFO:
  case SIM_MQTT_P_REQUEST_RESPONSE_INFO:
  case SIM_MQTT_P_MAX_QOS:
  case SIM_MQTT_P_RETAIN_AVAILABLE:
  case SIM_MQTT_P_WILDCARD_SUB:
  case SIM_MQTT_P_SUB_ID_AVAILABLE:
  case SIM_MQTT_P_SHARED_SUB:
    return u <= 1;
  case SIM_MQTT_P_RECEIVE_MAX:
  case SIM_MQTT_P_MAX_PACKET_SIZE:
  case SIM_MQTT_P_SUBSCRIPTION_ID:
  case SIM_MQTT_P_TOPIC_ALIAS:
    return u != 0;
  default:
    return 1;
  }
}

static void prop_store(struct sim_mqtt_props *o, const struct prop_def *d,
                       const struct prop_val *v) {
  uint8_t *f = (uint8_t *)o + d->off;
  if (d->id == SIM_MQTT_P_SUBSCRIPTION_ID) {
    if (o->n_sub_id++ == 0)
      o->sub_id = v->u;
    return;
  }
  if (d->id == SIM_MQTT_P_USER) {
    if (o->n_user < SIM_MQTT_USER_PROPS) {
      o->user_key[o->n_user] = v->a;
      o->user_val[o->n_user] = v->b;
    }
    o->n_user++;
    return;
  }
  switch (d->kind) {
  case K_BYTE:
    *f = (uint8_t)v->u;
    break;
  case K_U16:
    *(uint16_t *)(void *)f = (uint16_t)v->u;
    break;
  case K_U32:
  case K_VARINT:
    *(uint32_t *)(void *)f = v->u;
    break;
  default:
    *(struct sim_mqtt_bytes *)(void *)f = v->a;
    break;
  }
}

int sim__mqtt_props_decode(struct sim__mqtt_rd *rd, int where, struct sim_mqtt_props *out) {
  memset(out, 0, sizeof *out);
  uint32_t len;
  int rc = sim__mqtt_rd_varint(rd, &len);
  if (rc)
    return rc;
  if (rd->n - rd->off < len)
    return sim__mqtt_fail(rd, SIM_MQTT_PE_SHORT);
  /* The properties are read through a cursor that ends where they end, so that a value
   * running past the property length is short, not a read of what follows. */
  struct sim__mqtt_rd sub = {rd->p, rd->off + len, rd->off, SIM_MQTT_PE_NONE};
  while (sub.off < sub.n) {
    uint32_t id;
    if ((rc = sim__mqtt_rd_varint(&sub, &id)))
      goto fail;
    const struct prop_def *d = prop_find(id);
    if (!d) {
      rc = sim__mqtt_fail(&sub, SIM_MQTT_PE_PROP_UNKNOWN);
      goto fail;
    }
    if (!(d->where & (1u << where))) {
      rc = sim__mqtt_fail(&sub, SIM_MQTT_PE_PROP_PLACE);
      goto fail;
    }
    /* A subscription identifier repeats only in a PUBLISH (5.0 3.8.2.1.2, 3.3.2.3.8). */
    int repeat = d->repeat && (d->id != SIM_MQTT_P_SUBSCRIPTION_ID || where == SIM_MQTT_PUBLISH);
    if (!repeat && sim_mqtt_has(out, (enum sim_mqtt_prop_id)d->id)) {
      rc = sim__mqtt_fail(&sub, SIM_MQTT_PE_PROP_REPEATED);
      goto fail;
    }
    struct prop_val v = {0};
    if ((rc = prop_read(&sub, d->kind, &v)))
      goto fail;
    if (!prop_value_ok(d->id, v.u)) {
      rc = sim__mqtt_fail(&sub, SIM_MQTT_PE_PROP_VALUE);
      goto fail;
    }
    sim_mqtt_set(out, (enum sim_mqtt_prop_id)d->id);
    prop_store(out, d, &v);
  }
  rd->off = sub.off;
  return 0;
fail:
  rd->why = sub.why;
  return rc;
}

/* ---- encoding ---- */

static int put_u16(struct sim_buf *b, uint32_t v) {
  uint8_t q[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return sim_buf_append(b, q, 2);
}

static int put_bin(struct sim_buf *b, struct sim_mqtt_bytes s, int text) {
  if (s.n && !s.p)
    return SIM_EINVAL;
  if (text && !sim__mqtt_utf8_ok(s.p, s.n))
    return SIM_EINVAL;
  int rc = put_u16(b, s.n);
  return rc || s.n == 0 ? rc : sim_buf_append(b, s.p, s.n);
}

/* The value of property d as p holds it, for the encoder (User Property apart). */
static struct prop_val prop_load(const struct sim_mqtt_props *p, const struct prop_def *d) {
  const uint8_t *f = (const uint8_t *)p + d->off;
  struct prop_val v = {0};
  switch (d->kind) {
  case K_BYTE:
    v.u = *f;
    break;
  case K_U16:
    v.u = *(const uint16_t *)(const void *)f;
    break;
  case K_U32:
  case K_VARINT:
    v.u = *(const uint32_t *)(const void *)f;
    break;
  default:
    v.a = *(const struct sim_mqtt_bytes *)(const void *)f;
    break;
  }
  return v;
}

static int prop_write(struct sim_buf *b, const struct prop_def *d, const struct prop_val *v) {
  uint8_t q[5];
  q[0] = d->id;
  switch (d->kind) {
  case K_BYTE:
    q[1] = (uint8_t)v->u;
    return sim_buf_append(b, q, 2);
  case K_U16:
    q[1] = (uint8_t)(v->u >> 8);
    q[2] = (uint8_t)v->u;
    return sim_buf_append(b, q, 3);
  case K_U32:
    q[1] = (uint8_t)(v->u >> 24);
    q[2] = (uint8_t)(v->u >> 16);
    q[3] = (uint8_t)(v->u >> 8);
    q[4] = (uint8_t)v->u;
    return sim_buf_append(b, q, 5);
  case K_VARINT:
    if (v->u >= (1u << 28))
      return SIM_EINVAL;
    return sim_buf_append(b, q, 1 + sim__mqtt_put_varint(q + 1, v->u));
  default: {
    int rc = sim_buf_append(b, q, 1);
    if (!rc)
      rc = put_bin(b, v->a, d->kind != K_BIN);
    if (!rc && d->kind == K_PAIR)
      rc = put_bin(b, v->b, 1);
    return rc;
  }
  }
}

int sim__mqtt_props_encode(struct sim_buf *out, int where, const struct sim_mqtt_props *p) {
  struct sim_buf body;
  sim_buf_init(&body);
  int rc = 0;
  if (p->n_user > SIM_MQTT_USER_PROPS || (p->n_user && !sim_mqtt_has(p, SIM_MQTT_P_USER))) {
    rc = SIM_EINVAL;
    goto done;
  }
  for (size_t i = 0; i < N_PROPS && !rc; i++) {
    const struct prop_def *d = &props[i];
    if (!sim_mqtt_has(p, (enum sim_mqtt_prop_id)d->id))
      continue;
    if (!(d->where & (1u << where))) {
      rc = SIM_EINVAL;
      break;
    }
    if (d->id == SIM_MQTT_P_USER) {
      for (uint32_t u = 0; u < p->n_user && !rc; u++) {
        struct prop_val v = {0, p->user_key[u], p->user_val[u]};
        rc = prop_write(&body, d, &v);
      }
      continue;
    }
    struct prop_val v = prop_load(p, d);
    if (!prop_value_ok(d->id, v.u))
      rc = SIM_EINVAL;
    else
      rc = prop_write(&body, d, &v);
  }
  if (rc)
    goto done;
  if (body.len >= (1u << 28)) {
    rc = SIM_EINVAL;
    goto done;
  }
  uint8_t q[4];
  rc = sim_buf_append(out, q, sim__mqtt_put_varint(q, (uint32_t)body.len));
  if (!rc)
    rc = sim_buf_append(out, body.data, body.len);
done:
  sim_buf_fini(&body);
  return rc;
}

/* ---- reason codes ---- */

#define CONNACK5 W(CONNACK)
#define PUBACKS (W(PUBACK) | W(PUBREC))
#define PUBRELS (W(PUBREL) | W(PUBCOMP))

struct reason_def {
  uint8_t code;
  uint16_t where; /* MQTT 5 packets that may carry it */
  const char *name;
};

/* MQTT 5.0 Table 2-6 (section 2.4): every reason code and the packets it may appear in. */
static const struct reason_def reasons[] = {
    {0x00, CONNACK5 | PUBACKS | PUBRELS | W(SUBACK) | W(UNSUBACK) | W(DISCONNECT) | W(AUTH),
     "Success"},
    {0x01, W(SUBACK), "Granted QoS 1"},
    {0x02, W(SUBACK), "Granted QoS 2"},
    {0x04, W(DISCONNECT), "Disconnect with Will Message"},
    {0x10, PUBACKS, "No matching subscribers"},
    {0x11, W(UNSUBACK), "No subscription existed"},
    {0x18, W(AUTH), "Continue authentication"},
    {0x19, W(AUTH), "Re-authenticate"},
    {0x80, CONNACK5 | PUBACKS | W(SUBACK) | W(UNSUBACK) | W(DISCONNECT), "Unspecified error"},
    {0x81, CONNACK5 | W(DISCONNECT), "Malformed Packet"},
    {0x82, CONNACK5 | W(DISCONNECT), "Protocol Error"},
    {0x83, CONNACK5 | PUBACKS | W(SUBACK) | W(UNSUBACK) | W(DISCONNECT),
     "Implementation specific error"},
    {0x84, CONNACK5, "Unsupported Protocol Version"},
    {0x85, CONNACK5, "Client Identifier not valid"},
    {0x86, CONNACK5, "Bad User Name or Password"},
    {0x87, CONNACK5 | PUBACKS | W(SUBACK) | W(UNSUBACK) | W(DISCONNECT), "Not authorized"},
    {0x88, CONNACK5, "Server unavailable"},
    {0x89, CONNACK5 | W(DISCONNECT), "Server busy"},
    {0x8A, CONNACK5, "Banned"},
    {0x8B, W(DISCONNECT), "Server shutting down"},
    {0x8C, CONNACK5 | W(DISCONNECT), "Bad authentication method"},
    {0x8D, W(DISCONNECT), "Keep Alive timeout"},
    {0x8E, W(DISCONNECT), "Session taken over"},
    {0x8F, W(SUBACK) | W(UNSUBACK) | W(DISCONNECT), "Topic Filter invalid"},
    {0x90, CONNACK5 | PUBACKS | W(DISCONNECT), "Topic Name invalid"},
    {0x91, PUBACKS | W(SUBACK) | W(UNSUBACK), "Packet Identifier in use"},
    {0x92, PUBRELS, "Packet Identifier not found"},
    {0x93, W(DISCONNECT), "Receive Maximum exceeded"},
    {0x94, W(DISCONNECT), "Topic Alias invalid"},
    {0x95, CONNACK5 | W(DISCONNECT), "Packet too large"},
    {0x96, W(DISCONNECT), "Message rate too high"},
    {0x97, CONNACK5 | PUBACKS | W(SUBACK) | W(DISCONNECT), "Quota exceeded"},
    {0x98, W(DISCONNECT), "Administrative action"},
    {0x99, CONNACK5 | PUBACKS | W(DISCONNECT), "Payload format invalid"},
    {0x9A, CONNACK5 | W(DISCONNECT), "Retain not supported"},
    {0x9B, CONNACK5 | W(DISCONNECT), "QoS not supported"},
    {0x9C, CONNACK5 | W(DISCONNECT), "Use another server"},
    {0x9D, CONNACK5 | W(DISCONNECT), "Server moved"},
    {0x9E, W(SUBACK) | W(DISCONNECT), "Shared Subscriptions not supported"},
    {0x9F, CONNACK5 | W(DISCONNECT), "Connection rate exceeded"},
    {0xA0, W(DISCONNECT), "Maximum connect time"},
    {0xA1, W(SUBACK) | W(DISCONNECT), "Subscription Identifiers not supported"},
    {0xA2, W(SUBACK) | W(DISCONNECT), "Wildcard Subscriptions not supported"},
};

/* MQTT 3.1.1 Table 3.1 (section 3.2.2.3): the CONNACK return codes. */
static const char *const connack311[] = {
    "Connection Accepted", "unacceptable protocol version", "identifier rejected",
    "server unavailable",  "bad user name or password",     "not authorized",
};

static const struct reason_def *reason_find(uint8_t code) {
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
    if (reasons[i].code == code)
      return &reasons[i];
  return NULL;
}

int sim_mqtt_reason_valid(int type, int version, uint8_t code) {
  if (type < 1 || type > 15)
    return 0;
  if (version != SIM_MQTT_V5) {
    if (type == SIM_MQTT_CONNACK)
      return code <= 5;
    if (type == SIM_MQTT_SUBACK)
      return code <= 2 || code == 0x80;
    return code == 0;
  }
  const struct reason_def *d = reason_find(code);
  return d && (d->where & (1u << type));
}

const char *sim_mqtt_reason_name(int type, int version, uint8_t code) {
  if (version != SIM_MQTT_V5 && type == SIM_MQTT_CONNACK)
    return code < sizeof connack311 / sizeof connack311[0] ? connack311[code]
                                                           : "unknown reason code";
  if (version != SIM_MQTT_V5 && type == SIM_MQTT_SUBACK && code == 0x80)
    return "Failure";
  const struct reason_def *d = reason_find(code);
  return d ? d->name : "unknown reason code";
}

const char *sim_mqtt_perr_name(enum sim_mqtt_perr e) {
  static const char *const names[] = {
#define SIM__MQTT_PERR_NAME(name, msg) msg,
      SIM_MQTT_PERR_MAP(SIM__MQTT_PERR_NAME)
#undef SIM__MQTT_PERR_NAME
  };
  return (unsigned)e < SIM_MQTT_PE_COUNT ? names[e] : "unknown error";
}

const char *sim_mqtt_type_name(int type) {
  static const char *const names[] = {
      "reserved", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
      "PUBREL",   "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
      "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH",
  };
  return type >= 0 && type < 16 ? names[type] : "unknown";
}
