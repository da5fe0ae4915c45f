#include "sim/wire/hubrpc.h"

#include <string.h>

#include "sim/core/err.h"
#include "sim/core/utf8.h"
#include "sim/wire/frame.h"

int sim_hubrpc_encode(struct sim_buf *out, const sim_envelope *env) {
  size_t n = hubrpc__v1__envelope__get_packed_size(env);
  if (n > SIM_FRAME_MAX)
    return SIM_ETOOBIG;
  int rc = sim_buf_reserve(out, n + 5);
  if (rc)
    return rc;
  out->len += sim_frame_put_len(out->data + out->len, n);
  out->len += hubrpc__v1__envelope__pack(env, out->data + out->len);
  return 0;
}

/* ---- the nesting check ----
 *
 * protobuf-c unpacks a sub-message by calling itself, with no depth limit: Attribute.members
 * nested some 9,000 levels (30 KB, well under the frame limit) exhausts the stack. So before
 * protobuf-c sees a body, this scan walks the protobuf wire format with an explicit stack that
 * follows only the fields leading to Attribute (Envelope.report -> Report.attributes ->
 * Attribute.members -> ...) and refuses a body whose Attributes nest deeper than the limit.
 * Every other message of the schema holds no sub-message or a fixed depth of them (DeviceJoined
 * -> Endpoint), and unknown fields are kept as opaque bytes by protobuf-c, so this is the only
 * path along which its recursion can grow.
 *
 * The scan reads keys and lengths exactly as protobuf-c does, so it descends wherever protobuf-c
 * would. Each key is read once, so the cost is linear in the body. */

enum scan_msg { SCAN_OTHER = 0, SCAN_ENVELOPE, SCAN_REPORT, SCAN_ATTRIBUTE };

#define WT_VARINT 0u
#define WT_FIXED64 1u
#define WT_LEN 2u
#define WT_FIXED32 5u

/* What field `field` (length-delimited) of a `parent` message holds, as far as the scan cares. */
static enum scan_msg scan_child(enum scan_msg parent, uint32_t field) {
  if (parent == SCAN_ENVELOPE && field == 6)
    return SCAN_REPORT; /* Envelope.report */
  if (parent == SCAN_REPORT && field == 5)
    return SCAN_ATTRIBUTE; /* Report.attributes */
  if (parent == SCAN_ATTRIBUTE && field == 9)
    return SCAN_ATTRIBUTE; /* Attribute.members */
  return SCAN_OTHER;
}

/* A field key, read as protobuf-c reads it: at most 5 bytes, field number 0 refused. Returns the
 * bytes used, or 0 when it does not parse. */
static size_t scan_key(const uint8_t *p, size_t n, uint32_t *field, unsigned *wt) {
  if (n == 0 || (p[0] & 0xF8) == 0)
    return 0;
  uint32_t v = (uint32_t)(p[0] & 0x7F) >> 3;
  *wt = p[0] & 7u;
  if (!(p[0] & 0x80)) {
    *field = v;
    return 1;
  }
  unsigned shift = 4;
  size_t max = n < 5 ? n : 5;
  for (size_t i = 1; i < max; i++) {
    v |= (uint32_t)(p[i] & 0x7F) << shift;
    if (!(p[i] & 0x80)) {
      *field = v;
      return i + 1;
    }
    shift += 7;
  }
  return 0;
}

/* A length prefix (at most 5 bytes, at most INT32_MAX, and the data within n). Returns the
 * prefix size, or 0. */
static size_t scan_len(const uint8_t *p, size_t n, size_t *len) {
  uint64_t v = 0;
  size_t max = n < 5 ? n : 5;
  for (size_t i = 0; i < max; i++) {
    v |= (uint64_t)(p[i] & 0x7F) << (7 * i);
    if (!(p[i] & 0x80)) {
      if (v > INT32_MAX || v > n - (i + 1))
        return 0;
      *len = (size_t)v;
      return i + 1;
    }
  }
  return 0;
}

int sim_hubrpc_check_nesting(const uint8_t *body, size_t len) {
  /* Envelope, Report, then one entry per Attribute level. */
  struct {
    size_t end;
    enum scan_msg msg;
    unsigned level; /* Attribute level, 1 for Report.attributes */
  } st[SIM_HUBRPC_ATTR_DEPTH_MAX + 2];
  int top = 0;
  size_t off = 0;
  st[0].end = len;
  st[0].msg = SCAN_ENVELOPE;
  st[0].level = 0;
  while (top >= 0) {
    if (off == st[top].end) {
      top--;
      continue;
    }
    size_t n = st[top].end - off, used, l;
    uint32_t field;
    unsigned wt;
    if (!(used = scan_key(body + off, n, &field, &wt)))
      return SIM_EMALFORMED;
    off += used;
    n -= used;
    switch (wt) {
    case WT_VARINT: {
      size_t i = 0, max = n < 10 ? n : 10;
      while (i < max && (body[off + i] & 0x80))
        i++;
      if (i == max)
        return SIM_EMALFORMED;
      off += i + 1;
      break;
    }
    case WT_FIXED64:
    case WT_FIXED32:
      l = wt == WT_FIXED64 ? 8 : 4;
      if (n < l)
        return SIM_EMALFORMED;
      off += l;
      break;
    case WT_LEN: {
      if (!(used = scan_len(body + off, n, &l)))
        return SIM_EMALFORMED;
      off += used;
      enum scan_msg child = scan_child(st[top].msg, field);
      if (child == SCAN_OTHER) {
        off += l;
        break;
      }
      unsigned level = child != SCAN_ATTRIBUTE         ? 0
                       : st[top].msg == SCAN_ATTRIBUTE ? st[top].level + 1
                                                       : 1;
      if (level > SIM_HUBRPC_ATTR_DEPTH_MAX)
        return SIM_EMALFORMED;
      top++;
      st[top].end = off + l;
      st[top].msg = child;
      st[top].level = level;
      break;
    }
    default: /* groups (3, 4) and 6, 7: protobuf-c refuses them too */
      return SIM_EMALFORMED;
    }
  }
  return 0;
}

int sim_hubrpc_decode(const uint8_t *body, size_t len, sim_envelope **out) {
  return sim_hubrpc_decode_in(body, len, NULL, out);
}

int sim_hubrpc_decode_in(const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                         sim_envelope **out) {
  if (sim_hubrpc_check_nesting(body, len))
    return SIM_EMALFORMED;
  sim_envelope *env = hubrpc__v1__envelope__unpack(alloc, len, body);
  if (!env)
    return SIM_EMALFORMED;
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY__NOT_SET) {
    hubrpc__v1__envelope__free_unpacked(env, alloc);
    return SIM_EUNKNOWN_MSG;
  }
  *out = env;
  return 0;
}

void sim_hubrpc_free(sim_envelope *env) {
  if (env)
    hubrpc__v1__envelope__free_unpacked(env, NULL);
}

Hubrpc__V1__ErrorCode sim_hubrpc_error_code(int err) {
  switch (err) {
  case SIM_EMALFORMED:
    return HUBRPC__V1__ERROR_CODE__ERROR_MALFORMED_FRAME;
  case SIM_ETOOBIG:
    return HUBRPC__V1__ERROR_CODE__ERROR_FRAME_TOO_LARGE;
  case SIM_EUNKNOWN_MSG:
    return HUBRPC__V1__ERROR_CODE__ERROR_UNKNOWN_MESSAGE;
  case SIM_EUNEXPECTED:
    return HUBRPC__V1__ERROR_CODE__ERROR_UNEXPECTED_MESSAGE;
  case SIM_EAUTH:
    return HUBRPC__V1__ERROR_CODE__ERROR_AUTH_FAILED;
  case SIM_EVERSION:
    return HUBRPC__V1__ERROR_CODE__ERROR_UNSUPPORTED_VERSION;
  case SIM_ETIMEOUT:
    return HUBRPC__V1__ERROR_CODE__ERROR_TIMEOUT;
  case SIM_EWINDOW:
    return HUBRPC__V1__ERROR_CODE__ERROR_WINDOW_EXCEEDED;
  case SIM_ESEQ:
    return HUBRPC__V1__ERROR_CODE__ERROR_BAD_SEQUENCE;
  case SIM_EINVAL:
    return HUBRPC__V1__ERROR_CODE__ERROR_INVALID_FIELD;
  default:
    return HUBRPC__V1__ERROR_CODE__ERROR_UNSPECIFIED;
  }
}

const char *sim_hubrpc_body_name(Hubrpc__V1__Envelope__BodyCase c) {
  switch (c) {
  case HUBRPC__V1__ENVELOPE__BODY_HELLO:
    return "hello";
  case HUBRPC__V1__ENVELOPE__BODY_CHALLENGE:
    return "challenge";
  case HUBRPC__V1__ENVELOPE__BODY_AUTH:
    return "auth";
  case HUBRPC__V1__ENVELOPE__BODY_WELCOME:
    return "welcome";
  case HUBRPC__V1__ENVELOPE__BODY_HEARTBEAT:
    return "heartbeat";
  case HUBRPC__V1__ENVELOPE__BODY_REPORT:
    return "report";
  case HUBRPC__V1__ENVELOPE__BODY_ACK:
    return "ack";
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_JOINED:
    return "device_joined";
  case HUBRPC__V1__ENVELOPE__BODY_DEVICE_LEFT:
    return "device_left";
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND:
    return "command";
  case HUBRPC__V1__ENVELOPE__BODY_COMMAND_RESULT:
    return "command_result";
  case HUBRPC__V1__ENVELOPE__BODY_PERMIT_JOIN:
    return "permit_join";
  case HUBRPC__V1__ENVELOPE__BODY_ERROR:
    return "error";
  case HUBRPC__V1__ENVELOPE__BODY_GOODBYE:
    return "goodbye";
  default:
    return "unknown";
  }
}

int sim_hubrpc_put_error(struct sim_buf *out, Hubrpc__V1__ErrorCode code, const char *reason) {
  char r[SIM_HUBRPC_REASON_MAX + 1];
  sim_utf8_copy(r, sizeof(r), reason);
  Hubrpc__V1__Error e = HUBRPC__V1__ERROR__INIT;
  e.code = code;
  e.reason = r;
  sim_envelope env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ERROR;
  env.error = &e;
  return sim_hubrpc_encode(out, &env);
}
