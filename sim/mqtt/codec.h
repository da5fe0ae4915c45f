/* MQTT 3.1.1 and 5.0 control packets: an encoder, a decoder of whole packets, and an incremental
 * stream reader that yields whole packets from bytes split anywhere.
 *
 * Decoding is strict: whatever the specifications call malformed or a protocol error in a
 * packet's own bytes (a remaining length longer than 4 bytes, reserved flags set, a topic that
 * is not well-formed UTF-8, a property repeated or in a packet that may not carry it, a reason
 * code not allowed in that packet, bytes left over) is refused with SIM_EMALFORMED and a named
 * reason (enum sim_mqtt_perr, sim_mqtt_perr_name()). Nothing a peer sends trips an assert; the
 * decoder does not recurse; the reader checks a packet's size from its remaining length before
 * it buffers a byte of the body.
 *
 * Ownership: a decoded packet's strings and binaries point into the bytes decoded (borrowed:
 * valid for the callback, or as long as the caller's buffer). The encoder appends to a caller's
 * buffer and keeps nothing. */
#ifndef SIM_MQTT_CODEC_H
#define SIM_MQTT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "sim/core/buf.h"

/* The largest packet MQTT can express: 1 byte of type, 4 of remaining length, 268,435,455. */
#define SIM_MQTT_PACKET_LIMIT 268435460u
/* The reader's default limit (a whole packet, fixed header included). */
#define SIM_MQTT_PACKET_DEFAULT (256u * 1024u)

#define SIM_MQTT_V311 4
#define SIM_MQTT_V5 5

enum sim_mqtt_type {
  SIM_MQTT_CONNECT = 1,
  SIM_MQTT_CONNACK = 2,
  SIM_MQTT_PUBLISH = 3,
  SIM_MQTT_PUBACK = 4,
  SIM_MQTT_PUBREC = 5,
  SIM_MQTT_PUBREL = 6,
  SIM_MQTT_PUBCOMP = 7,
  SIM_MQTT_SUBSCRIBE = 8,
  SIM_MQTT_SUBACK = 9,
  SIM_MQTT_UNSUBSCRIBE = 10,
  SIM_MQTT_UNSUBACK = 11,
  SIM_MQTT_PINGREQ = 12,
  SIM_MQTT_PINGRESP = 13,
  SIM_MQTT_DISCONNECT = 14,
  SIM_MQTT_AUTH = 15
};

/* Why a packet was refused; each has a name for messages. */
#define SIM_MQTT_PERR_MAP(X)                                                                       \
  X(NONE, "no error")                                                                              \
  X(VARINT, "variable byte integer longer than 4 bytes")                                           \
  X(TOOBIG, "packet larger than the maximum packet size")                                          \
  X(TYPE, "reserved packet type")                                                                  \
  X(FLAGS, "bad fixed header flags")                                                               \
  X(SHORT, "packet shorter than its fields")                                                       \
  X(TRAILING, "bytes left over after the last field")                                              \
  X(UTF8, "string is not well-formed UTF-8 (or holds U+0000)")                                     \
  X(TOPIC, "topic name empty or holding a wildcard")                                               \
  X(PROTOCOL, "unknown protocol name or level")                                                    \
  X(CONNECT_FLAGS, "bad CONNECT flags")                                                            \
  X(ACK_FLAGS, "bad CONNACK acknowledge flags")                                                    \
  X(QOS, "QoS 3")                                                                                  \
  X(PACKET_ID, "packet identifier 0")                                                              \
  X(REASON, "reason code not allowed in this packet")                                              \
  X(PROP_UNKNOWN, "unknown property identifier")                                                   \
  X(PROP_REPEATED, "property repeated")                                                            \
  X(PROP_PLACE, "property not allowed in this packet")                                             \
  X(PROP_VALUE, "property value out of range")                                                     \
  X(SUB_OPTIONS, "bad subscription options")                                                       \
  X(EMPTY_LIST, "no topic filter or reason code")                                                  \
  X(VERSION, "packet needs MQTT 5")

enum sim_mqtt_perr {
#define SIM__MQTT_PERR_ENUM(name, msg) SIM_MQTT_PE_##name,
  SIM_MQTT_PERR_MAP(SIM__MQTT_PERR_ENUM)
#undef SIM__MQTT_PERR_ENUM
      SIM_MQTT_PE_COUNT
};
/* "variable byte integer longer than 4 bytes"; static storage. */
const char *sim_mqtt_perr_name(enum sim_mqtt_perr e);

/* A length-prefixed string or binary (borrowed). For the encoder p may be NULL when n is 0. */
struct sim_mqtt_bytes {
  const uint8_t *p;
  uint16_t n;
};

/* MQTT 5 property identifiers. */
enum sim_mqtt_prop_id {
  SIM_MQTT_P_PAYLOAD_FORMAT = 0x01,
  SIM_MQTT_P_MESSAGE_EXPIRY = 0x02,
  SIM_MQTT_P_CONTENT_TYPE = 0x03,
  SIM_MQTT_P_RESPONSE_TOPIC = 0x08,
  SIM_MQTT_P_CORRELATION_DATA = 0x09,
  SIM_MQTT_P_SUBSCRIPTION_ID = 0x0B,
  SIM_MQTT_P_SESSION_EXPIRY = 0x11,
  SIM_MQTT_P_ASSIGNED_CLIENT_ID = 0x12,
  SIM_MQTT_P_SERVER_KEEPALIVE = 0x13,
  SIM_MQTT_P_AUTH_METHOD = 0x15,
  SIM_MQTT_P_AUTH_DATA = 0x16,
  SIM_MQTT_P_REQUEST_PROBLEM_INFO = 0x17,
  SIM_MQTT_P_WILL_DELAY = 0x18,
  SIM_MQTT_P_REQUEST_RESPONSE_INFO = 0x19,
  SIM_MQTT_P_RESPONSE_INFO = 0x1A,
  SIM_MQTT_P_SERVER_REFERENCE = 0x1C,
  SIM_MQTT_P_REASON_STRING = 0x1F,
  SIM_MQTT_P_RECEIVE_MAX = 0x21,
  SIM_MQTT_P_TOPIC_ALIAS_MAX = 0x22,
  SIM_MQTT_P_TOPIC_ALIAS = 0x23,
  SIM_MQTT_P_MAX_QOS = 0x24,
  SIM_MQTT_P_RETAIN_AVAILABLE = 0x25,
  SIM_MQTT_P_USER = 0x26,
  SIM_MQTT_P_MAX_PACKET_SIZE = 0x27,
  SIM_MQTT_P_WILDCARD_SUB = 0x28,
  SIM_MQTT_P_SUB_ID_AVAILABLE = 0x29,
  SIM_MQTT_P_SHARED_SUB = 0x2A
};

/* User properties kept by the decoder (the rest are counted); the encoder takes as many. */
#define SIM_MQTT_USER_PROPS 4

/* The MQTT 5 properties of one packet (or of a will). `present` has bit (1 << id) set for each
 * property carried; a field is meaningful only then. Subscription identifiers may repeat in a
 * PUBLISH: the first is kept, all are counted in n_sub_id. */
struct sim_mqtt_props {
  uint64_t present;
  uint8_t payload_format, request_problem_info, request_response_info, max_qos;
  uint8_t retain_available, wildcard_sub, sub_id_available, shared_sub;
  uint16_t server_keepalive, receive_max, topic_alias_max, topic_alias;
  uint32_t message_expiry, session_expiry, will_delay, max_packet_size, sub_id;
  uint32_t n_sub_id, n_user;
  struct sim_mqtt_bytes content_type, response_topic, correlation_data, assigned_client_id;
  struct sim_mqtt_bytes auth_method, auth_data, response_info, server_reference, reason_string;
  struct sim_mqtt_bytes user_key[SIM_MQTT_USER_PROPS], user_val[SIM_MQTT_USER_PROPS];
};

static inline int sim_mqtt_has(const struct sim_mqtt_props *p, enum sim_mqtt_prop_id id) {
  return (int)((p->present >> (unsigned)id) & 1u);
}
static inline void sim_mqtt_set(struct sim_mqtt_props *p, enum sim_mqtt_prop_id id) {
  p->present |= (uint64_t)1 << (unsigned)id;
}

/* The fields of CONNECT that no other packet has. */
struct sim_mqtt_connect {
  uint8_t level;       /* 4 (3.1.1) or 5 */
  uint8_t clean;       /* clean session (3.1.1) / clean start (5) */
  uint8_t will;        /* a will follows */
  uint8_t will_qos;    /* 0..2 */
  uint8_t will_retain; /* 0 or 1 */
  uint8_t has_username, has_password;
  uint16_t keepalive; /* seconds; 0 turns keepalive off */
  struct sim_mqtt_bytes client_id, will_topic, will_payload, username, password;
  struct sim_mqtt_props will_props; /* MQTT 5 */
};

/* One control packet, decoded or to encode. Which fields count depends on type:
 *   CONNECT      connect, props
 *   CONNACK      session_present, reason (3.1.1 return code or 5 reason code), props
 *   PUBLISH      qos, dup, retain, topic, packet_id (qos > 0), payload (p, n as payload_len),
 *                props
 *   PUBACK..PUBCOMP  packet_id, reason, props
 *   SUBSCRIBE    packet_id, props, list: count (topic filter, options byte) pairs
 *   SUBACK       packet_id, props, list: count reason codes, one byte each
 *   UNSUBSCRIBE  packet_id, props, list: count topic filters
 *   UNSUBACK     packet_id, props, list: count reason codes (5; none in 3.1.1)
 *   DISCONNECT, AUTH  reason, props (5)
 * For the encoder, list holds the encoded entries (use sim_mqtt_list_*); for the decoder it
 * points into the packet and sim_mqtt_list_next() walks it. */
struct sim_mqtt_packet {
  uint8_t type;
  uint8_t qos, dup, retain;
  uint8_t session_present;
  uint8_t reason;
  uint16_t packet_id;
  struct sim_mqtt_bytes topic;
  const uint8_t *payload;
  size_t payload_len;
  const uint8_t *list;
  size_t list_len, count;
  struct sim_mqtt_connect connect;
  struct sim_mqtt_props props;
  /* A PUBLISH above the reader's max that it skipped (skip_big): its whole size in bytes. Only
   * type, qos, dup, retain, topic and packet_id are read; payload and properties are not. */
  size_t oversized;
};

/* Encodes pkt for protocol level version (4 or 5) and appends it to out. The caller's mistakes
 * (a field out of range, a topic with a wildcard or not UTF-8, a string over 65,535 bytes, a
 * packet over the MQTT limit, a property in a packet that may not carry it) return SIM_EINVAL
 * with out unchanged; SIM_ENOMEM likewise. */
int sim_mqtt_encode(struct sim_buf *out, const struct sim_mqtt_packet *pkt, int version);

/* Appends one SUBSCRIBE entry (filter, options byte: QoS in bits 0-1, and in 5 no-local,
 * retain-as-published, retain handling) or one UNSUBSCRIBE filter (options < 0) to list. */
int sim_mqtt_list_add(struct sim_buf *list, const char *filter, int options);

/* Walks a decoded list from *off (start at 0): a SUBSCRIBE entry sets *filter and *options, an
 * UNSUBSCRIBE entry *filter only (options may be NULL), a SUBACK or UNSUBACK entry *options only
 * (filter may be NULL). 1 with the entry, 0 at the end. The decoder has checked every entry. */
int sim_mqtt_list_next(const struct sim_mqtt_packet *pkt, size_t *off,
                       struct sim_mqtt_bytes *filter, uint8_t *options);

/* Reads the fixed header at p[0..n): *total is the size of the whole packet. 0, SIM_EAGAIN
 * (need more bytes), or SIM_EMALFORMED / SIM_ETOOBIG with *why set (a reserved type,
 * a varint over 4 bytes, a packet over max). */
int sim_mqtt_peek(const uint8_t *p, size_t n, size_t max, size_t *total, enum sim_mqtt_perr *why);

/* Decodes one whole packet p[0..n) (n exactly the packet's size) spoken at level version (4 or
 * 5; a CONNECT names its own level and may be decoded with either). 0 with *pkt filled (its
 * pointers into p), or SIM_EMALFORMED with *why set. */
int sim_mqtt_decode(const uint8_t *p, size_t n, int version, struct sim_mqtt_packet *pkt,
                    enum sim_mqtt_perr *why);

/* Called once per whole packet (borrowed for the call). A non-zero return stops the feed and is
 * returned by sim_mqtt_reader_feed(). */
typedef int (*sim_mqtt_packet_cb)(void *arg, const struct sim_mqtt_packet *pkt);

/* The incremental reader. Whole packets are decoded straight from the input; only a partial
 * packet is copied, into pending, and no more of it than its declared size, which was checked
 * against max first. pending is freed when it empties after growing above 4 KiB. */
struct sim_mqtt_reader {
  struct sim_buf pending;
  size_t max;
  int version;
  enum sim_mqtt_perr why; /* the reason of the last SIM_EMALFORMED or SIM_ETOOBIG */
  uint8_t type_seen;      /* the type of the packet refused, 0 if unknown */
  /* skip_big (set by the owner): a PUBLISH above max is not an error; its head (fixed header,
   * topic, packet id: at most 65,546 bytes) is read and delivered with pkt.oversized set, and
   * the rest of it is discarded as it arrives, so that the stream goes on. MQTT 3.1.1 lets a
   * broker deliver anything up to 256 MiB; an acknowledged, dropped message is better than a
   * lost connection. Any other packet above max stays an error. */
  int skip_big;
  int big;         /* 1 while reading an oversized PUBLISH's head into pending */
  size_t big_left; /* bytes of an oversized PUBLISH still to discard */
};

/* max: the largest whole packet accepted, 0 for SIM_MQTT_PACKET_DEFAULT; above
 * SIM_MQTT_PACKET_LIMIT it is lowered to it. version: 4 or 5, may be changed between feeds. */
void sim_mqtt_reader_init(struct sim_mqtt_reader *r, size_t max, int version);
void sim_mqtt_reader_fini(struct sim_mqtt_reader *r);
/* Feeds n bytes. 0, SIM_EMALFORMED / SIM_ETOOBIG (r->why says why), SIM_ENOMEM, or the
 * callback's return. After an error the stream is lost: close the peer. */
int sim_mqtt_reader_feed(struct sim_mqtt_reader *r, const uint8_t *p, size_t n,
                         sim_mqtt_packet_cb cb, void *arg);

/* Names for messages: "CONNACK". */
const char *sim_mqtt_type_name(int type);
/* The name of a reason code as packet type (and version) use it: a 3.1.1 CONNACK return code
 * ("not authorized" for 5), an MQTT 5 reason code ("Not authorized" for 0x87); "unknown reason
 * code" otherwise. Static storage. */
const char *sim_mqtt_reason_name(int type, int version, uint8_t code);
/* 1 when code may appear in a packet of that type and version. */
int sim_mqtt_reason_valid(int type, int version, uint8_t code);

#endif
