/* Fuzzes the admin line protocol as a client drives it: bytes go to plat__admin_feed, the
 * part of the admin port that knows nothing of sockets (line splitting, the 4096-byte line
 * limit, the token check, then every request: stats, command, device, rule, timer, ...).
 *
 * Two servers are made once, never started (nothing listens), on an in-memory store: one
 * without a token and one that requires "fuzz-token". The first input byte picks the server
 * and the chunk size the bytes are fed in (so lines split across reads are exercised); the
 * rest is what a client sends. Every reply must be one JSON object: a malformed reply would
 * break every client. Rules and timers are dropped after each input, so inputs do not pile
 * up state (the admin's limits are exercised within one input: at most 64 of each). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform/automation.h"
#include "platform/platform.h"
#include "platform/server_internal.h"
#include "sim/core/log.h"
#include "sim/transport/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct sim_transport *mem;
static struct plat_server *open_srv, *token_srv;

static struct plat_server *make(const char *token) {
  struct plat_config cfg = {0};
  cfg.listen = "fuzz:1";
  cfg.db_path = ":memory:";
  cfg.admin_token = token;
  cfg.max_rules = 64;
  cfg.max_timers = 64;
  cfg.seed = 1;
  struct plat_server *srv = NULL;
  if (plat_server_new(&loop, mem, &cfg, &srv))
    abort();
  return srv;
}

static void init(void) {
  if (open_srv)
    return;
  sim_log_set_level(SIM_LOG_ERROR);
  uv_loop_init(&loop);
  if (sim_transport_mem_new(&loop, &mem))
    abort();
  open_srv = make(NULL);
  token_srv = make("fuzz-token");
}

/* Every reply is one JSON object without a newline inside. */
static void on_reply(void *arg, char *json) {
  (void)arg;
  if (!json)
    return;
  if (strchr(json, '\n'))
    abort();
  json_t *j = json_loads(json, 0, NULL);
  if (!j || !json_is_object(j))
    abort();
  json_decref(j);
  free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init();
  if (size == 0)
    return 0;
  struct plat_server *srv = data[0] & 0x80 ? token_srv : open_srv;
  size_t chunk = (size_t)(data[0] & 0x7F) * 64 + 1;
  data++;
  size--;
  struct plat_admin_conv cv;
  memset(&cv, 0, sizeof cv);
  for (size_t off = 0; off < size; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    if (plat__admin_feed(srv, &cv, data + off, n, on_reply, NULL, NULL))
      break; /* the connection would be closed here */
  }
  plat__admin_conv_fini(&cv);
  plat__auto_free(srv->autom);
  srv->autom = NULL;
  return 0;
}
