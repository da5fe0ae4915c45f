/* Error codes of hubsim: one list, negative values, with names and messages.
 *
 * Every call that can fail returns 0 or one of these (negated). System errors from libuv
 * (negative errno) pass through unchanged; sim_strerror() names both kinds. */
#ifndef SIM_CORE_ERR_H
#define SIM_CORE_ERR_H

#define SIM_ERRNO_MAP(X)                                                                           \
  X(NOMEM, 1000, "out of memory")                                                                  \
  X(INVAL, 1001, "invalid argument")                                                               \
  X(AGAIN, 1002, "need more data")                                                                 \
  X(TOOBIG, 1003, "frame larger than the limit")                                                   \
  X(MALFORMED, 1004, "malformed input")                                                            \
  X(UNKNOWN_MSG, 1005, "unknown message")                                                          \
  X(UNEXPECTED, 1006, "message not allowed in this state")                                         \
  X(AUTH, 1007, "authentication failed")                                                           \
  X(VERSION, 1008, "unsupported protocol version")                                                 \
  X(TIMEOUT, 1009, "timed out")                                                                    \
  X(WINDOW, 1010, "unacknowledged window exceeded")                                                \
  X(SEQ, 1011, "bad sequence number")                                                              \
  X(FULL, 1012, "queue full")                                                                      \
  X(CLOSED, 1013, "connection closed")                                                             \
  X(NOTFOUND, 1014, "not found")                                                                   \
  X(EXISTS, 1015, "already exists")                                                                \
  X(IO, 1016, "input/output error")                                                                \
  X(PEER, 1017, "peer reported an error")                                                          \
  X(DB, 1018, "database error")                                                                    \
  X(USAGE, 1019, "usage error")                                                                    \
  X(LIVELOCK, 1020, "virtual time cannot advance: the loop never settles")                         \
  X(TLS_VERIFY, 1021, "TLS: the peer's certificate did not verify")                                \
  X(TLS_PROTOCOL, 1022, "TLS protocol error")                                                      \
  X(TLS_TIMEOUT, 1023, "TLS handshake timed out")                                                  \
  X(TLS_NOT_TLS, 1024, "the peer does not speak TLS")

enum sim_err {
#define SIM__ERR_ENUM(name, code, msg) SIM_E##name = -(code),
  SIM_ERRNO_MAP(SIM__ERR_ENUM)
#undef SIM__ERR_ENUM
};

/* Message for any code: ours or a negative errno / libuv code. Never NULL; static storage. */
const char *sim_strerror(int err);
/* Short upper-case name ("TIMEOUT", "ECONNREFUSED"), for counts by reason. Static storage. */
const char *sim_errname(int err);

#endif
