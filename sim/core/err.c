#include "sim/core/err.h"

#include <uv.h>

const char *sim_strerror(int err) {
  switch (err) {
#define SIM__ERR_MSG(name, code, msg)                                                              \
  case -(code):                                                                                    \
    return msg;
    SIM_ERRNO_MAP(SIM__ERR_MSG)
#undef SIM__ERR_MSG
  case 0:
    return "success";
  default:
    /* libuv codes are negated errno on Unix; uv_strerror covers them. */
    return uv_strerror(err);
  }
}

const char *sim_errname(int err) {
  switch (err) {
#define SIM__ERR_NAME(name, code, msg)                                                             \
  case -(code):                                                                                    \
    return #name;
    SIM_ERRNO_MAP(SIM__ERR_NAME)
#undef SIM__ERR_NAME
  case 0:
    return "OK";
  default:
    return uv_err_name(err);
  }
}
