#include "sim/wire/hubrpc.h"

#include <stdio.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/wire/frame.h"

int sim_hubrpc_encode(struct sim_buf *out, const sim_env *env) {
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

int sim_hubrpc_decode(const uint8_t *body, size_t len, sim_env **out) {
  sim_env *env = hubrpc__v1__envelope__unpack(NULL, len, body);
  if (!env)
    return SIM_EMALFORMED;
  if (env->body_case == HUBRPC__V1__ENVELOPE__BODY__NOT_SET) {
    hubrpc__v1__envelope__free_unpacked(env, NULL);
    return SIM_EUNKNOWN_MSG;
  }
  *out = env;
  return 0;
}

void sim_hubrpc_free(sim_env *env) {
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
  snprintf(r, sizeof(r), "%s", reason ? reason : "");
  Hubrpc__V1__Error e = HUBRPC__V1__ERROR__INIT;
  e.code = code;
  e.reason = r;
  sim_env env = HUBRPC__V1__ENVELOPE__INIT;
  env.body_case = HUBRPC__V1__ENVELOPE__BODY_ERROR;
  env.error = &e;
  return sim_hubrpc_encode(out, &env);
}
