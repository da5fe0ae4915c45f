#include "z2mtest.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "support/platproc.h"

#define ZT_MSGS_MAX 400000 /* a bound on what the observer keeps */

static void on_connected(struct sim_mqtt_client *c, int sp, void *user) {
  (void)c;
  (void)sp;
  ((struct zt *)user)->connected = 1;
}

static void on_message(struct sim_mqtt_client *c, const struct sim_mqtt_msg *m, void *user) {
  struct zt *z = user;
  (void)c;
  if (z->n == ZT_MSGS_MAX)
    return;
  if (z->n == z->cap) {
    z->cap = z->cap ? z->cap * 2 : 1024;
    z->msg = realloc(z->msg, z->cap * sizeof *z->msg);
    assert_non_null(z->msg);
  }
  z->msg[z->n].topic = strdup(m->topic);
  z->msg[z->n].payload = strndup((const char *)m->payload, m->len);
  assert_non_null(z->msg[z->n].topic);
  assert_non_null(z->msg[z->n].payload);
  z->n++;
}

static void on_suback(struct sim_mqtt_client *c, uint16_t id, const uint8_t *codes, size_t n,
                      void *user) {
  (void)c;
  (void)id;
  (void)codes;
  (void)n;
  ((struct zt *)user)->subacks++;
}

static int is_connected(struct zt *z, void *arg) {
  (void)arg;
  return z->connected;
}

static int is_subscribed(struct zt *z, void *arg) {
  (void)arg;
  return z->subacks > 0;
}

void zt_init(struct zt *z, const char *filter) {
  memset(z, 0, sizeof *z);
  z->child = -1;
  mq_loop_init(&z->m);
  assert_int_equal(broker_start(&z->b, z->m.dir, 0), 0);
  struct sim_mqtt_client_opts o = {
      .client_id = "observer", .version = 5, .clean = 1, .keepalive = 60, .receive_max = 1000};
  struct sim_mqtt_client_cbs cbs = {
      .connected_cb = on_connected, .message_cb = on_message, .subscribed_cb = on_suback};
  assert_int_equal(sim_mqtt_client_new(&z->m.loop, &o, &cbs, z, &z->obs), 0);
  struct sim_addr a = {.port = z->b.port};
  snprintf(a.host, sizeof a.host, "127.0.0.1");
  assert_int_equal(sim_mqtt_client_connect(z->obs, z->m.tcp, &a), 0);
  assert_true(zt_until(z, is_connected, NULL, 5000));
  assert_int_equal(sim_mqtt_client_subscribe(z->obs, filter, 1, NULL), 0);
  assert_true(zt_until(z, is_subscribed, NULL, 5000));
  snprintf(z->summary, sizeof z->summary, "%s/summary.json", z->m.dir);
  snprintf(z->out, sizeof z->out, "%s/out.txt", z->m.dir);
  snprintf(z->err, sizeof z->err, "%s/err.txt", z->m.dir);
}

void zt_fini(struct zt *z) {
  if (z->child > 0)
    zt_wait_child(z, 0);
  if (z->b.pid > 0)
    broker_stop(&z->b);
  sim_mqtt_client_free(z->obs);
  for (size_t i = 0; i < z->n; i++) {
    free(z->msg[i].topic);
    free(z->msg[i].payload);
  }
  free(z->msg);
  mq_loop_fini(&z->m); /* runs the loop until the client is gone, removes the folder */
}

void zt_spawn(struct zt *z, const char *const *extra) {
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  char url[64];
  snprintf(url, sizeof url, "mqtt://127.0.0.1:%u", z->b.port);
  /* --allow-lag: these tests count messages; a generator late on a busy machine is a warning
   * here, not their failure. */
  const char *argv[64] = {bin,    "run",  "--profile", "zigbee2mqtt", "--platform",  url,
                          "--ui", "none", "--summary", z->summary,    "--allow-lag", "-q"};
  size_t n = 12;
  for (size_t i = 0; extra[i]; i++) {
    assert_true(n < 63);
    argv[n++] = extra[i];
  }
  argv[n] = NULL;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    platproc_child_dies_with_parent();
    int out = open(z->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(z->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0)
      _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  z->child = pid;
}

int zt_until(struct zt *z, int (*pred)(struct zt *z, void *arg), void *arg, unsigned ms) {
  uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000ull;
  while (!pred(z, arg)) {
    if (uv_hrtime() >= deadline)
      return 0;
    uv_run(&z->m.loop, UV_RUN_ONCE);
  }
  return 1;
}

int zt_child_alive(struct zt *z) {
  int st;
  return z->child > 0 && waitpid(z->child, &st, WNOHANG) == 0;
}

static int child_done(struct zt *z, void *arg) {
  int *st = arg;
  pid_t r = waitpid(z->child, st, WNOHANG);
  return r == z->child;
}

int zt_wait_child(struct zt *z, unsigned ms) {
  int st = 0;
  /* The loop keeps running meanwhile, so that the observer still reads (the broker and the
   * child are never held up by a full socket). */
  if (!zt_until(z, child_done, &st, ms)) {
    kill(z->child, SIGKILL);
    waitpid(z->child, &st, 0);
    z->child = -1;
    return -1;
  }
  z->child = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

long zt_find(const struct zt *z, size_t from, const char *topic, const char *needle) {
  for (size_t i = from; i < z->n; i++)
    if (strcmp(z->msg[i].topic, topic) == 0 && (!needle || strstr(z->msg[i].payload, needle)))
      return (long)i;
  return -1;
}

void zt_publish(struct zt *z, const char *topic, const char *payload) {
  assert_int_equal(sim_mqtt_client_publish(z->obs, topic, payload, strlen(payload), 1, 0, NULL), 0);
}
