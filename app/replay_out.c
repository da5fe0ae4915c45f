/* hubsim replay, the outcome: what was re-sent and acknowledged, and the differences between
 * the platform's answers in the capture and in the replay (docs/recorders.md section 8):
 *   - per re-sent message, acknowledged in one and not in the other;
 *   - per hub, the Commands the platform sent (device, endpoint, cluster, command, payload),
 *     compared as multisets;
 *   - per hub, the Errors the platform sent (their codes), compared the same way.
 * The human summary goes to stdout, the JSON one to --json through the crash-safe writer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/replay.h"
#include "sim/core/err.h"
#include "sim/core/wfile.h"

#define SHOW_MAX 10 /* differences listed by name (stdout and JSON); all are counted */

static const char *const kind_name[SIM_SEQ_NKINDS] = {"reports", "device_joined", "device_left",
                                                      "command_results"};
enum { D_ACK = 0, D_CMD, D_ERR, D_N };
static const char *const diff_name[D_N] = {"acks", "commands", "errors"};

struct tally {
  uint64_t in_capture[SIM_SEQ_NKINDS], orig_acked[SIM_SEQ_NKINDS];
  uint64_t resent[SIM_SEQ_NKINDS], acked[SIM_SEQ_NKINDS], lost[SIM_SEQ_NKINDS];
  uint64_t not_sent[SIM_SEQ_NKINDS];
  uint64_t diff[D_N], n_diff;
  uint64_t cmds[2];
  json_t *first; /* the first SHOW_MAX differences */
};

static void add_diff(struct tally *t, int what, const struct rp_hub *h, const char *text) {
  t->diff[what]++;
  if (t->n_diff++ < SHOW_MAX && t->first)
    json_array_append_new(
        t->first, json_pack("{s:s,s:s,s:s}", "hub", h->id, "kind", diff_name[what], "what", text));
}

static int key_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys in one multiset and not the other (sorted, then walked together). */
static void diff_keys(struct tally *t, int what, const struct rp_hub *h, struct rp_keys k[2]) {
  for (int w = 0; w < 2; w++)
    if (k[w].n > 1) /* an empty set has no array at all */
      qsort(k[w].v, k[w].n, sizeof *k[w].v, key_cmp);
  size_t i = 0, j = 0;
  char text[480];
  while (i < k[0].n || j < k[1].n) {
    int c = i == k[0].n ? 1 : j == k[1].n ? -1 : strcmp(k[0].v[i], k[1].v[j]);
    if (c == 0) {
      i++, j++;
      continue;
    }
    snprintf(text, sizeof text, "%s: sent by the platform in the %s only",
             c < 0 ? k[0].v[i] : k[1].v[j], c < 0 ? "capture" : "replay");
    add_diff(t, what, h, text);
    if (c < 0)
      i++;
    else
      j++;
  }
}

static void tally(struct replay *r, struct tally *t) {
  char text[200];
  for (size_t i = 0; i < r->n_msgs; i++) {
    const struct rp_msg *m = &r->msgs[i];
    const struct rp_hub *h = &r->hubs[m->hub];
    int k = m->kind, acked = m->new_seq && m->new_seq <= h->up_to;
    t->in_capture[k]++;
    t->orig_acked[k] += m->orig_acked;
    if (!m->new_seq) {
      t->not_sent[k]++;
    } else {
      t->resent[k]++;
      t->acked[k] += acked;
      t->lost[k] += !acked;
    }
    if (acked != m->orig_acked) {
      snprintf(text, sizeof text, "%s seq %" PRIu64 " of the capture: acknowledged in the %s only",
               kind_name[k], m->orig_seq, acked ? "replay" : "capture");
      add_diff(t, D_ACK, h, text);
    }
  }
  for (size_t i = 0; i < r->n_hubs; i++) {
    struct rp_hub *h = &r->hubs[i];
    t->cmds[0] += h->cmd[0].n;
    t->cmds[1] += h->cmd[1].n;
    diff_keys(t, D_CMD, h, h->cmd);
    diff_keys(t, D_ERR, h, h->err);
  }
}

static uint64_t sum(const uint64_t *v) {
  uint64_t s = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    s += v[k];
  return s;
}

/* Why the replay fails, into why (cap bytes); empty when it passes. */
static void reasons(const struct replay *r, const struct tally *t, char *why, size_t cap) {
  size_t n = 0;
  why[0] = '\0';
#define ADD(...)                                                                                   \
  do {                                                                                             \
    if (n < cap)                                                                                   \
      n += (size_t)snprintf(why + n, cap - n, "%s", n ? "; " : "");                                \
    if (n < cap)                                                                                   \
      n += (size_t)snprintf(why + n, cap - n, __VA_ARGS__);                                        \
  } while (0)
  if (r->st->sessions == 0 && r->n_hubs) {
    ADD("no hub's session opened (%" PRIu64 " connects", r->st->connects);
    for (size_t i = 0; i < r->st->n_errors && i < 3; i++)
      ADD("%s x %" PRIu64, r->st->errors[i].name, r->st->errors[i].count);
    ADD("the platform at %s did not take the sessions)", r->o.platform);
  }
  if (sum(t->lost))
    ADD("%" PRIu64 " re-sent messages not acknowledged within --wait %.3gs", sum(t->lost),
        r->o.wait_s);
  if (sum(t->not_sent))
    ADD("%" PRIu64 " messages could not be queued", sum(t->not_sent));
  if (t->n_diff)
    ADD("%" PRIu64 " differences from the capture", t->n_diff);
  if (r->oom)
    ADD("out of memory while comparing");
#undef ADD
}

static void print_human(const struct replay *r, const struct tally *t, const char *why) {
  const struct rec_capread *c = r->cap;
  printf("hubsim replay %s against %s (speed %g)\n", r->o.file, r->o.platform, r->o.speed);
  printf("  capture        %zu hubs, %zu connections, %" PRIu64 " packets", r->n_hubs, c->n_conns,
         c->packets);
  if (c->truncated)
    printf("; cut short at byte %" PRIu64 " (read up to its last whole block)", c->end_off);
  printf("\n  left out       %" PRIu64 " resends of the hubs, %" PRIu64 " command results, %" PRIu64
         " session frames (Hello, Auth, Heartbeat, Goodbye)\n",
         r->resends_skipped, r->results_skipped, r->session_msgs);
  if (r->unreadable || r->partial_tail || r->gaps)
    printf("  streams        %" PRIu64 " stopped on bytes that are not frames, %" PRIu64
           " end inside a frame, %" PRIu64 " miss segments\n",
           r->unreadable, r->partial_tail, r->gaps);
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    if (k == SIM_SEQ_RESULT)
      continue;
    printf("  %-14s capture %" PRIu64 " (acked there %" PRIu64 "), re-sent %" PRIu64
           ", acked %" PRIu64 ", lost %" PRIu64 ", not sent %" PRIu64 "\n",
           kind_name[k], t->in_capture[k], t->orig_acked[k], t->resent[k], t->acked[k], t->lost[k],
           t->not_sent[k]);
  }
  printf("  sessions       %" PRIu64 " opened, %" PRIu64 " connects, %" PRIu64
         " errors from the platform, commands %" PRIu64 " (capture %" PRIu64 ")\n",
         r->st->sessions, r->st->connects, r->platform_errors, t->cmds[1], t->cmds[0]);
  printf("  differences    %" PRIu64 " (acks %" PRIu64 ", commands %" PRIu64 ", errors %" PRIu64
         ")\n",
         t->n_diff, t->diff[D_ACK], t->diff[D_CMD], t->diff[D_ERR]);
  if (!r->o.quiet) {
    size_t i;
    json_t *d;
    json_array_foreach(t->first, i, d) {
      printf("    %s %s: %s\n", json_string_value(json_object_get(d, "hub")),
             json_string_value(json_object_get(d, "kind")),
             json_string_value(json_object_get(d, "what")));
    }
    if (t->n_diff > SHOW_MAX)
      printf("    ... and %" PRIu64 " more\n", t->n_diff - SHOW_MAX);
  }
  printf("  verdict        %s%s%s\n", why[0] ? "FAIL: " : "PASS", why, "");
}

static json_t *to_json(const struct replay *r, const struct tally *t, const char *why) {
  const struct rec_capread *c = r->cap;
  json_t *cap = json_pack(
      "{s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "hubs", (json_int_t)r->n_hubs, "connections",
      (json_int_t)c->n_conns, "packets", (json_int_t)c->packets, "truncated", c->truncated,
      "read_bytes", (json_int_t)c->end_off, "resends_left_out", (json_int_t)r->resends_skipped,
      "command_results_left_out", (json_int_t)r->results_skipped, "session_frames",
      (json_int_t)r->session_msgs, "unreadable_streams", (json_int_t)r->unreadable,
      "partial_frames", (json_int_t)r->partial_tail, "streams_with_gaps", (json_int_t)r->gaps);
  json_t *rep =
      json_pack("{s:I,s:I,s:I}", "sessions_opened", (json_int_t)r->st->sessions, "connects",
                (json_int_t)r->st->connects, "platform_errors", (json_int_t)r->platform_errors);
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    if (k == SIM_SEQ_RESULT)
      continue;
    json_object_set_new(cap, kind_name[k],
                        json_pack("{s:I,s:I}", "messages", (json_int_t)t->in_capture[k], "acked",
                                  (json_int_t)t->orig_acked[k]));
    json_object_set_new(rep, kind_name[k],
                        json_pack("{s:I,s:I,s:I,s:I}", "resent", (json_int_t)t->resent[k], "acked",
                                  (json_int_t)t->acked[k], "lost", (json_int_t)t->lost[k],
                                  "not_sent", (json_int_t)t->not_sent[k]));
  }
  json_t *errs = json_object();
  for (size_t i = 0; i < r->st->n_errors; i++)
    json_object_set_new(errs, r->st->errors[i].name,
                        json_integer((json_int_t)r->st->errors[i].count));
  json_object_set_new(rep, "session_errors", errs);
  json_t *diff = json_pack("{s:I,s:I,s:I,s:I,s:O}", "total", (json_int_t)t->n_diff, "acks",
                           (json_int_t)t->diff[D_ACK], "commands", (json_int_t)t->diff[D_CMD],
                           "errors", (json_int_t)t->diff[D_ERR], "first", t->first);
  return json_pack("{s:s,s:s,s:f,s:f,s:o,s:o,s:o,s:s,s:s}", "file", r->o.file, "platform",
                   r->o.platform, "speed", r->o.speed, "wait_s", r->o.wait_s, "capture", cap,
                   "replay", rep, "differences", diff, "verdict", why[0] ? "fail" : "pass",
                   "reason", why);
}

static int write_json(const struct replay *r, json_t *j) {
  struct sim_wfile w;
  int rc = j ? sim_wfile_open(&w, r->o.json) : SIM_ENOMEM;
  if (rc == 0) {
    if (json_dumpf(j, w.fp, JSON_INDENT(2)) || fputc('\n', w.fp) == EOF) {
      sim_wfile_abort(&w);
      rc = SIM_EIO;
    } else {
      rc = sim_wfile_commit(&w);
    }
  }
  if (rc)
    fprintf(stderr, "hubsim replay: --json '%s': cannot write it: %s\n", r->o.json,
            sim_strerror(rc));
  return rc;
}

int app_replay_report(struct replay *r) {
  struct tally t = {.first = json_array()};
  char why[1024];
  tally(r, &t);
  reasons(r, &t, why, sizeof why);
  print_human(r, &t, why);
  int code = why[0] ? 1 : 0;
  if (r->o.json) {
    json_t *j = to_json(r, &t, why);
    if (write_json(r, j))
      code = 2;
    json_decref(j);
  }
  json_decref(t.first);
  return code;
}
