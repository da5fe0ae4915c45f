/* bench_mqtt_mosq: libmosquitto driven from one libuv loop, the way hubsim would embed it:
 * one struct mosquitto per hub, connected with mosquitto_connect_async (a non-blocking
 * connect), its socket watched by a uv_poll_t, mosquitto_loop_read / mosquitto_loop_write when
 * the socket is ready and mosquitto_loop_misc once a second for keepalive. No thread of
 * libmosquitto's own runs. The phases and the JSON line are gen.c's. */
#include "gen.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct mq_hub {
  struct mosquitto *m;
  uv_poll_t poll;
  int events;     /* what poll watches now (0: not started) */
  uint8_t state;  /* 0 idle, 1 connecting, 2 up, 3 dead */
  uint8_t polled; /* poll was initialised: it must be closed */
  struct mq *owner;
};

struct mq {
  const struct gen_opts *o;
  struct gen_stats *s;
  struct mq_hub *hubs;
  uv_loop_t loop;
  uv_timer_t tick; /* bounds one poll() to ~10 ms */
  uv_timer_t misc; /* mosquitto_loop_misc, once a second */
};

static void mq_dead(struct mq_hub *h) {
  if (h->state == 2)
    h->owner->s->closed++;
  else if (h->state == 1)
    h->owner->s->connect_failed++;
  h->state = 3;
  if (h->events) {
    uv_poll_stop(&h->poll);
    h->events = 0;
  }
}

/* Watches the socket for reading, and for writing while libmosquitto has bytes queued. */
static void mq_watch(struct mq_hub *h);

static void mq_poll_cb(uv_poll_t *p, int status, int events) {
  struct mq_hub *h = p->data;
  int rc = MOSQ_ERR_SUCCESS;
  if (status < 0) {
    if (h->state == 1)
      gen_note_error(h->owner->s, uv_strerror(status));
    mq_dead(h);
    return;
  }
  if (events & UV_WRITABLE)
    rc = mosquitto_loop_write(h->m, 1);
  if (rc == MOSQ_ERR_SUCCESS && (events & UV_READABLE) && h->state != 3)
    rc = mosquitto_loop_read(h->m, 64);
  if (rc != MOSQ_ERR_SUCCESS) {
    if (h->state == 1)
      gen_note_error(h->owner->s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    mq_dead(h);
    return;
  }
  if (h->state != 3)
    mq_watch(h);
}

static void mq_watch(struct mq_hub *h) {
  int want = UV_READABLE | (mosquitto_want_write(h->m) ? UV_WRITABLE : 0);
  if (want == h->events)
    return;
  if (!h->events) {
    int fd = mosquitto_socket(h->m),
        rc = fd < 0 ? 0 : uv_poll_init_socket(&h->owner->loop, &h->poll, fd);
    if (fd < 0 || rc != 0) {
      gen_note_error(h->owner->s, fd < 0 ? "libmosquitto has no socket" : uv_strerror(rc));
      mq_dead(h);
      return;
    }
    h->poll.data = h;
    h->polled = 1;
  }
  uv_poll_start(&h->poll, want, mq_poll_cb);
  h->events = want;
}

static void mq_on_connect(struct mosquitto *m, void *obj, int rc) {
  struct mq_hub *h = obj;
  (void)m;
  if (rc != 0) {
    if (h->state == 1)
      gen_note_error(h->owner->s, mosquitto_connack_string(rc));
    mq_dead(h);
    return;
  }
  h->state = 2;
  h->owner->s->connected++;
}

static void mq_on_publish(struct mosquitto *m, void *obj, int mid) {
  struct mq_hub *h = obj;
  (void)m;
  (void)mid;
  h->owner->s->acked++;
}

static void mq_on_disconnect(struct mosquitto *m, void *obj, int rc) {
  struct mq_hub *h = obj;
  (void)m;
  if (h->state == 1)
    gen_note_error(h->owner->s, mosquitto_strerror(rc));
  mq_dead(h);
}

static int mq_connect(void *ctx, int hub) {
  struct mq *q = ctx;
  struct mq_hub *h = &q->hubs[hub];
  char id[96];
  snprintf(id, sizeof(id), "%s-%d", q->o->name, hub);
  h->owner = q;
  h->m = mosquitto_new(id, true, h);
  if (!h->m) {
    h->state = 3;
    gen_note_error(q->s, strerror(errno));
    return -1;
  }
  mosquitto_int_option(h->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_connect_callback_set(h->m, mq_on_connect);
  mosquitto_publish_callback_set(h->m, mq_on_publish);
  mosquitto_disconnect_callback_set(h->m, mq_on_disconnect);
  h->state = 1;
  int rc = mosquitto_connect_async(h->m, q->o->host, q->o->port, q->o->keepalive);
  if (rc != MOSQ_ERR_SUCCESS) {
    /* An embedder frees a client that could not even start connecting. */
    gen_note_error(q->s, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    mq_dead(h);
    mosquitto_destroy(h->m);
    h->m = NULL;
    return 0; /* counted by mq_dead */
  }
  mq_watch(h);
  return 0;
}

static int mq_publish(void *ctx, int hub, const char *topic, const char *payload, size_t len) {
  struct mq_hub *h = &((struct mq *)ctx)->hubs[hub];
  if (h->state != 2)
    return -1;
  if (mosquitto_publish(h->m, NULL, topic, (int)len, payload, 1, false) != MOSQ_ERR_SUCCESS) {
    h->owner->s->errors++;
    return -1;
  }
  mq_watch(h);
  return 0;
}

static void mq_tick_cb(uv_timer_t *t) {
  (void)t;
}

static void mq_misc_cb(uv_timer_t *t) {
  struct mq *q = t->data;
  for (int i = 0; i < q->o->hubs; i++) {
    struct mq_hub *h = &q->hubs[i];
    if (h->state == 2) {
      if (mosquitto_loop_misc(h->m) != MOSQ_ERR_SUCCESS)
        mq_dead(h);
      else
        mq_watch(h);
    }
  }
}

static void mq_poll(void *ctx) {
  uv_run(&((struct mq *)ctx)->loop, UV_RUN_ONCE);
}

int main(int argc, char **argv) {
  struct gen_opts o;
  struct gen_stats s = {0};
  struct mq q = {.o = &o, .s = &s};
  gen_opts_parse(&o, argc, argv, "bench_mqtt_mosq");
  mosquitto_lib_init();
  /* Left untouched here: the pages of a hub's slot count in its memory when it connects. */
  q.hubs = calloc((size_t)o.hubs, sizeof(*q.hubs));
  if (!q.hubs || uv_loop_init(&q.loop) != 0) {
    fprintf(stderr, "bench_mqtt_mosq: out of memory\n");
    return 3;
  }
  uv_timer_init(&q.loop, &q.tick);
  uv_timer_start(&q.tick, mq_tick_cb, 10, 10);
  uv_timer_init(&q.loop, &q.misc);
  q.misc.data = &q;
  uv_timer_start(&q.misc, mq_misc_cb, 1000, 1000);
  struct gen_ops ops = {.connect = mq_connect, .publish = mq_publish, .poll = mq_poll};
  int rc = gen_run("libmosquitto", &o, &s, &ops, &q);
  /* Handles close first (their callbacks run in the loop), then the clients and their sockets. */
  for (int i = 0; i < o.hubs; i++)
    if (q.hubs[i].polled)
      uv_close((uv_handle_t *)&q.hubs[i].poll, NULL);
  uv_close((uv_handle_t *)&q.tick, NULL);
  uv_close((uv_handle_t *)&q.misc, NULL);
  uv_run(&q.loop, UV_RUN_DEFAULT);
  uv_loop_close(&q.loop);
  for (int i = 0; i < o.hubs; i++)
    if (q.hubs[i].m)
      mosquitto_destroy(q.hubs[i].m);
  free(q.hubs);
  mosquitto_lib_cleanup();
  return rc;
}
