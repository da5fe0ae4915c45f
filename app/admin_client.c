/* A scenario's platform operations against an external platform, through the admin line
 * protocol the reference platform defines (docs/platform.md): one request line, one JSON reply
 * line, over a TCP connection opened per request. A platform under test that offers the same
 * lines gets the same automations, timers and commands from a scenario.
 *
 * Blocking with a 5 s limit: these run on the control path (scenario start and callbacks), never
 * per report. */
#include "app/admin_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"
#include "sim/core/hex.h"
#include "sim/core/keyfile.h"

#define ADMIN_TIMEOUT_MS 5000

/* Sends line (after "auth TOKEN" when there is a token) and reads its reply line into reply.
 * 0 or a negative error. */
static int admin_request(const struct app_admin *a, const char *line, char *reply, size_t cap) {
  if (a->token_bad)
    return SIM_EINVAL;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(a->addr.port)};
  int rc = 0;
  if (inet_pton(AF_INET, a->addr.host, &sa.sin_addr) != 1) {
    rc = SIM_EINVAL;
    goto out;
  }
  struct timeval tv = {ADMIN_TIMEOUT_MS / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    rc = -errno;
    goto out;
  }
  if (a->token[0]) {
    char auth[300];
    int an = snprintf(auth, sizeof auth, "auth %s\n", a->token);
    if (send(fd, auth, (size_t)an, MSG_NOSIGNAL) != an) {
      rc = SIM_EIO;
      goto out;
    }
  }
  size_t n = strlen(line);
  if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
    rc = SIM_EIO;
    goto out;
  }
  size_t got = 0;
  int skip = a->token[0] ? 1 : 0; /* the {"auth":"ok"} line */
  while (got + 1 < cap) {
    ssize_t r = recv(fd, reply + got, cap - 1 - got, 0);
    if (r <= 0) {
      rc = r == 0 ? SIM_ECLOSED : SIM_ETIMEOUT;
      goto out;
    }
    got += (size_t)r;
    reply[got] = 0;
    char *nl;
    while ((nl = memchr(reply, '\n', got)) && skip) {
      if (!strstr(reply, "\"auth\":\"ok\"")) {
        *nl = 0;
        fprintf(stderr, "hubsim run: --platform-admin: the token was refused: %s\n", reply);
        rc = SIM_EAUTH;
        goto out;
      }
      skip = 0;
      got -= (size_t)(nl + 1 - reply);
      memmove(reply, nl + 1, got + 1);
    }
    if (nl) {
      *nl = 0;
      goto out;
    }
  }
  rc = SIM_ETOOBIG;
out:
  close(fd);
  return rc;
}

/* Runs a request whose reply is {"KEY": N} or {"error": "..."}. */
static int admin_id(const struct app_admin *a, const char *line, const char *key, uint64_t *id) {
  char reply[4096];
  int rc = admin_request(a, line, reply, sizeof reply);
  if (rc)
    return rc;
  json_error_t e;
  json_t *j = json_loads(reply, 0, &e);
  if (!j)
    return SIM_EPEER;
  json_t *v = json_object_get(j, key);
  if (!json_is_integer(v)) {
    fprintf(stderr, "hubsim run: --platform-admin: '%s' answered: %s\n", line, reply);
    json_decref(j);
    return SIM_EPEER;
  }
  if (id)
    *id = (uint64_t)json_integer_value(v);
  json_decref(j);
  return 0;
}

/* " PAYLOADHEX" (nothing for an empty payload), cut to what fits in cap. */
static void put_payload(char *p, size_t cap, const uint8_t *payload, size_t len) {
  size_t o = 0;
  if (len && cap > 1)
    p[o++] = ' ';
  size_t fits = (cap - o - 1) / 2;
  sim_hex_encode(p + o, payload, len < fits ? len : fits, 0);
}

static int cl_command(void *arg, const struct scn_device_ref *dev, uint8_t ep, uint16_t cluster,
                      uint8_t command, const uint8_t *payload, size_t len, uint64_t *cmd_id) {
  char line[512], pl[160];
  put_payload(pl, sizeof pl, payload, len);
  snprintf(line, sizeof line, "command %s %016" PRIx64 " %u %04x %02x%s", dev->hub_id, dev->eui64,
           ep, cluster, command, pl);
  return admin_id(arg, line, "cmd_id", cmd_id);
}

static int cl_rule_add(void *arg, const struct scn_rule *r, uint64_t *id) {
  char line[512], pl[160], cond[40];
  put_payload(pl, sizeof pl, r->payload, r->payload_len);
  if (r->has_value)
    snprintf(cond, sizeof cond, "=%.17g", r->value);
  else
    snprintf(cond, sizeof cond, "*");
  snprintf(line, sizeof line,
           "rule add %016" PRIx64 " %04x %04x %s %s %016" PRIx64 " %u %04x %02x%s", r->when.eui64,
           r->when_cluster, r->when_attr, cond, r->then.hub_id, r->then.eui64, r->then_ep,
           r->then_cluster, r->then_command, pl);
  return admin_id(arg, line, "rule_id", id);
}

static int cl_timer_add(void *arg, const struct scn_timer *t, uint64_t *id) {
  char line[512], pl[160];
  put_payload(pl, sizeof pl, t->payload, t->payload_len);
  snprintf(line, sizeof line, "timer add %02u:%02u %s %016" PRIx64 " %u %04x %02x%s", t->hour,
           t->minute, t->then.hub_id, t->then.eui64, t->then_ep, t->then_cluster, t->then_command,
           pl);
  return admin_id(arg, line, "timer_id", id);
}

static int cl_metric(void *arg, const char *name, double *out) {
  char reply[16384];
  int rc = admin_request(arg, "stats", reply, sizeof reply);
  if (rc)
    return rc;
  json_t *j = json_loads(reply, 0, NULL);
  if (!j)
    return SIM_EPEER;
  const char *key = strcmp(name, "reports_stored") == 0 ? "reports_committed" : name;
  json_t *v = json_object_get(j, key);
  rc = json_is_number(v) ? 0 : SIM_ENOTFOUND;
  if (rc == 0)
    *out = json_number_value(v);
  json_decref(j);
  return rc;
}

/* Reads the token file (sim/core/keyfile.h: not readable or writable by other users): 1..256
 * printable characters without spaces. 0, or a message naming the file and -1. */
static int read_token(const char *path, char *out, size_t cap) {
  const char *why = NULL;
  size_t n = 0;
  if (sim_keyfile_read(path, (uint8_t *)out, cap - 1, &n, &why) == 0) {
    why = NULL;
    out[n] = 0;
    int ok = n >= 1 && n <= 256;
    for (size_t i = 0; ok && i < n; i++)
      ok = out[i] > 0x20 && out[i] < 0x7f;
    if (!ok)
      why = "not a token (1..256 printable characters without spaces)";
  }
  if (why) {
    out[0] = 0;
    fprintf(stderr, "hubsim run: HUBSIM_ADMIN_TOKEN_FILE %s: %s\n", path, why);
    return -1;
  }
  return 0;
}

int app_admin_init(struct app_admin *a, const char *hostport) {
  memset(a, 0, sizeof(*a));
  if (sim_addr_parse(hostport, &a->addr) || a->addr.port == 0)
    return SIM_EINVAL;
  const char *tf = getenv("HUBSIM_ADMIN_TOKEN_FILE");
  if (tf && *tf && read_token(tf, a->token, sizeof a->token))
    a->token_bad = 1;
  return 0;
}

void app_admin_ops(struct app_admin *a, struct scn_platform_ops *ops) {
  memset(ops, 0, sizeof(*ops));
  ops->arg = a;
  ops->command = cl_command;
  ops->rule_add = cl_rule_add;
  ops->timer_add = cl_timer_add;
  ops->metric = cl_metric;
}
