/* The scenario API end to end: tests/integration/scenarios_api/api.lua drives a fleet of 8 hubs
 * against the in-process reference platform on the virtual clock (as `hubsim run --clock
 * virtual` will): timeline, triggers, power cut and restore, faults, a platform automation with
 * its end-to-end latency, platform commands and expectations (continuous and final). The same
 * script twice gives the same results and the same log, line for line, the second time with
 * scn_peek() every second (a dashboard's view judges nothing). Also: a failing
 * callback stops the run with file:line, and a platform without automations is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <uv.h>

#include "devices/cat_global.h"
#include "platform/platform.h"
#include "scenarios/scn.h"
#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "sim/fleet/fleet.h"
#include "sim/loop/vdriver.h"

/* ---- the platform operations, over the embedded reference platform ------------------------ */

static int op_command(void *arg, const struct scn_device_ref *dev, uint8_t ep, uint16_t cluster,
                      uint8_t command, const uint8_t *payload, size_t len, uint64_t *cmd_id) {
  return plat_server_command(arg, dev->hub_id, dev->eui64, ep, cluster, command, payload, len, 0, 0,
                             cmd_id);
}

static void action_of(struct plat_action *a, const struct scn_device_ref *d, uint8_t ep,
                      uint16_t cluster, uint8_t command, const uint8_t *payload, size_t len) {
  memset(a, 0, sizeof *a);
  a->hub_id = d->hub_id;
  a->eui64 = d->eui64;
  a->endpoint = ep;
  a->cluster = cluster;
  a->command = command;
  a->payload = payload;
  a->len = len;
}

static int op_rule_add(void *arg, const struct scn_rule *r, uint64_t *id) {
  struct plat_rule pr;
  memset(&pr, 0, sizeof pr);
  pr.when_eui64 = r->when.eui64;
  pr.cluster = r->when_cluster;
  pr.attr = r->when_attr;
  pr.op = r->has_value ? PLAT_RULE_EQ : PLAT_RULE_ANY;
  pr.value = r->value;
  action_of(&pr.then, &r->then, r->then_ep, r->then_cluster, r->then_command, r->payload,
            r->payload_len);
  return plat_server_rule_add(arg, &pr, id);
}

static int op_timer_add(void *arg, const struct scn_timer *t, uint64_t *id) {
  struct plat_timer pt;
  memset(&pt, 0, sizeof pt);
  pt.hour = t->hour;
  pt.minute = t->minute;
  action_of(&pt.then, &t->then, t->then_ep, t->then_cluster, t->then_command, t->payload,
            t->payload_len);
  return plat_server_timer_add(arg, &pt, id);
}

static int op_metric(void *arg, const char *name, double *out) {
  struct plat_counters c;
  plat_server_counters(arg, &c);
  static const struct {
    const char *name;
    size_t off;
  } m[] = {{"rules_fired", offsetof(struct plat_counters, rules_fired)},
           {"rule_commands", offsetof(struct plat_counters, rule_commands)},
           {"reports_new", offsetof(struct plat_counters, reports_new)},
           {"commands_ok", offsetof(struct plat_counters, commands_ok)}};
  for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
    if (strcmp(name, m[i].name) == 0) {
      uint64_t v;
      memcpy(&v, (const char *)&c + m[i].off, sizeof v);
      *out = (double)v;
      return 0;
    }
  }
  return SIM_ENOTFOUND;
}

/* ---- one run --------------------------------------------------------------------------------- */

struct outcome {
  int failed;
  struct scn_error err;
  size_t n_exp, passed, nfailed;
  uint8_t verdict[32];
  double value[32], at_s[32];
  uint64_t automation_count, automation_p99, steps;
  uint64_t log_hash;
  size_t n_log;
  char phase[64];
};

static int mem_busy(void *arg) {
  return sim_transport_mem_busy(arg);
}
static void stopped_fleet(struct sim_fleet *f, void *arg) {
  (void)f;
  *(int *)arg = 1;
}
static void stopped_plat(struct plat_server *s, void *arg) {
  (void)s;
  *(int *)arg = 1;
}

static uint32_t dph_of(void *arg, uint32_t g) {
  struct scn *s = arg;
  return scn_devices_of_hub(s, scn_seed(s), g);
}

/* "MODEL:W,MODEL:W" (or "all") into the fleet's mix. */
static void set_mix(struct sim_fleet_config *cfg, const char *mix) {
  cfg->n_mix = 0;
  if (!mix || strcmp(mix, "all") == 0) {
    for (size_t i = 0; i < sim_model_count() && cfg->n_mix < SIM_FLEET_MAX_MIX; i++) {
      cfg->mix_model[cfg->n_mix] = (uint16_t)i;
      cfg->mix_weight[cfg->n_mix++] = 1;
    }
    return;
  }
  char buf[512];
  snprintf(buf, sizeof buf, "%s", mix);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *colon = strchr(tok, ':');
    double w = 1;
    if (colon) {
      *colon = 0;
      w = strtod(colon + 1, NULL);
    }
    int idx = sim_model_find(tok);
    assert_true(idx >= 0);
    cfg->mix_model[cfg->n_mix] = (uint16_t)idx;
    cfg->mix_weight[cfg->n_mix++] = w;
  }
}

struct run_opts {
  const char *path;
  const char *text; /* NULL: read path */
  int no_automations;
  int expect_start_error;
  int peek; /* look at the expectations every second, as a dashboard does */
};

/* What a dashboard sees mid-run: an end-of-run expectation is pending whatever its metric reads
 * now; a continuous one is pending before its `after`; nothing is judged. */
static void peek_check(struct scn *s, double now_s, size_t *pending_seen) {
  struct scn_results p;
  scn_peek(s, &p);
  for (size_t i = 0; i < p.n_exp; i++) {
    const struct scn_expectation *e = &p.exp[i];
    if (e->after_s <= 0 || now_s < e->after_s)
      assert_int_equal(e->verdict, SCN_PENDING);
    else
      assert_true(e->verdict == SCN_PASS || e->verdict == SCN_FAIL || e->verdict == SCN_PENDING);
    if (e->verdict == SCN_PENDING)
      (*pending_seen)++;
  }
  assert_true(p.passed + p.failed <= p.n_exp);
}

/* What one run builds around the script: a loop, the in-memory transport, the reference
 * platform on a scratch database, the fleet the script declares and the virtual-time driver. */
struct rig {
  uv_loop_t loop;
  struct sim_transport *t;
  struct plat_server *srv;
  struct sim_fleet *f;
  struct sim_vdriver d;
  char db[32];
};

static struct scn *load_script(const struct run_opts *ro) {
  struct scn *s = NULL;
  struct scn_error err;
  if (scn_load(ro->path, ro->text, ro->text ? strlen(ro->text) : 0, NULL, &s, &err)) {
    char m[1024];
    scn_error_format(&err, m, sizeof m);
    fail_msg("load: %s", m);
  }
  return s;
}

/* The platform and the fleet as the script's declarations say, both on the virtual driver. */
static void rig_open(struct rig *g, struct scn *s) {
  const struct scn_config *sc = scn_config(s);
  snprintf(g->db, sizeof g->db, "/tmp/hubsim-scn-api-XXXXXX");
  int fd = mkstemp(g->db);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(uv_loop_init(&g->loop), 0);
  assert_int_equal(sim_transport_mem_new(&g->loop, &g->t), 0);
  static const uint8_t key[] = "hubsim-demo-fleet-key";
  struct plat_config pc = {.listen = "mem://platform:0",
                           .db_path = g->db,
                           .fleet_key = key,
                           .fleet_key_len = sizeof(key) - 1,
                           .virtual_clock = 1,
                           .seed = scn_seed(s)};
  assert_int_equal(plat_server_new(&g->loop, g->t, &pc, &g->srv), 0);
  assert_int_equal(plat_server_start(g->srv), 0);
  static struct sim_fleet_config cfg;
  sim_fleet_config_default(&cfg);
  cfg.hubs = sc->hubs;
  cfg.devices_per_hub = sc->dph;
  cfg.devices_of_hub = dph_of;
  cfg.devices_arg = s;
  snprintf(cfg.platform.host, sizeof(cfg.platform.host), "platform");
  cfg.platform.port = plat_server_port(g->srv);
  set_mix(&cfg, sc->mix);
  cfg.seed = scn_seed(s);
  cfg.ramp = sc->ramp >= 0 ? sc->ramp : 0;
  cfg.virtual_clock = 1;
  assert_int_equal(sim_fleet_new(&g->loop, g->t, &cfg, &g->f), 0);
  sim_vdriver_init(&g->d, &g->loop, mem_busy, g->t);
  assert_int_equal(sim_vdriver_add(&g->d, sim_fleet_sched(g->f)), 0);
  assert_int_equal(sim_vdriver_add(&g->d, plat_server_sched(g->srv)), 0);
}

/* Stops the fleet and the platform (bounded in steps), frees everything and removes the
 * database with its side files. */
static void rig_close(struct rig *g) {
  int fs = 0, ps = 0;
  sim_fleet_stop(g->f, stopped_fleet, &fs);
  assert_int_equal(plat_server_stop(g->srv, stopped_plat, &ps), 0);
  for (int i = 0; i < 1000 && !(fs && ps); i++)
    assert_true(sim_vdriver_step(&g->d, g->d.now + SIM_MS(100)) >= 0);
  assert_true(fs && ps);
}

static void rig_free(struct rig *g) {
  sim_vdriver_remove(&g->d, sim_fleet_sched(g->f));
  sim_vdriver_remove(&g->d, plat_server_sched(g->srv));
  sim_fleet_free(g->f);
  plat_server_free(g->srv);
  uv_run(&g->loop, UV_RUN_NOWAIT);
  sim_transport_free(g->t);
  uv_run(&g->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&g->loop), 0);
  unlink(g->db);
  char side[64];
  snprintf(side, sizeof side, "%s-wal", g->db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", g->db);
  unlink(side);
}

/* Runs the script's duration a second at a time (peeking when asked), then lets the fleet
 * quiesce for 10 s. Stops early when a callback failed. */
static void drive(struct rig *g, struct scn *s, const struct run_opts *ro, struct outcome *o) {
  const struct scn_config *sc = scn_config(s);
  uint32_t dur = sc->duration_s > 0 ? (uint32_t)sc->duration_s : 60;
  size_t pending_seen = 0;
  for (uint32_t sec = 1; sec <= dur; sec++) {
    assert_int_equal(sim_vdriver_run(&g->d, SIM_SEC(sec), NULL, NULL), 0);
    if (ro->peek) {
      peek_check(s, sec, &pending_seen);
      peek_check(s, sec, &pending_seen); /* twice: reading changes nothing */
    }
    scn_poll(s);
    if (scn_failed(s, &o->err)) {
      o->failed = 1;
      break;
    }
  }
  sim_fleet_quiesce(g->f);
  assert_int_equal(sim_vdriver_run(&g->d, g->d.now + SIM_SEC(10), NULL, NULL), 0);
  if (ro->peek)
    assert_true(pending_seen > 0);
}

/* Copies the final results into the outcome, printing each expectation. */
static void record_results(const struct scn_results *r, struct outcome *o) {
  o->n_exp = r->n_exp;
  o->passed = r->passed;
  o->nfailed = r->failed;
  for (size_t i = 0; i < r->n_exp && i < 32; i++) {
    o->verdict[i] = r->exp[i].verdict;
    o->value[i] = r->exp[i].value;
    o->at_s[i] = r->exp[i].at_s;
    printf("  %-28s %-2s %-8s -> %-8s %g (at %g s) line %d\n", r->exp[i].metric, r->exp[i].op,
           r->exp[i].threshold_text,
           r->exp[i].verdict == SCN_PASS   ? "PASS"
           : r->exp[i].verdict == SCN_FAIL ? "FAIL"
                                           : "NO_DATA",
           r->exp[i].value, r->exp[i].at_s, r->exp[i].line);
  }
  o->automation_count = r->automation->count;
  o->automation_p99 = sim_hist_quantile(r->automation, 0.99);
  o->steps = r->steps_run;
  snprintf(o->phase, sizeof o->phase, "%s", r->phase);
}

/* The end of a started run: the final verdicts (a view after the end shows them too), then a
 * stop that is idempotent and after which finishing again gives the same verdicts. */
static void finish_run(struct rig *g, struct scn *s, const struct run_opts *ro, struct outcome *o) {
  struct scn_results r;
  scn_finish(s, &r);
  if (ro->peek) {
    struct scn_results p;
    scn_peek(s, &p);
    assert_int_equal(p.passed, r.passed);
    assert_int_equal(p.failed, r.failed);
    for (size_t i = 0; i < r.n_exp; i++)
      assert_int_equal(p.exp[i].verdict, r.exp[i].verdict);
  }
  record_results(&r, o);
  sim_vdriver_remove(&g->d, scn_sched(s));
  scn_stop(s); /* as the app does when the run ends: nothing runs afterwards */
  scn_stop(s); /* idempotent */
  scn_poll(s);
  scn_finish(s, &r); /* still works, same verdicts */
  assert_int_equal(r.passed, o->passed);
}

/* The log's line count and a hash of its lines (each followed by 0xFF). */
static void hash_log(struct scn *s, struct outcome *o) {
  const char *const *lines;
  o->n_log = scn_log(s, &lines);
  uint64_t h = SIM_HASH_FNV64_INIT;
  for (size_t i = 0; i < o->n_log; i++) {
    h = sim_hash_fnv64(h, lines[i], strlen(lines[i]));
    h = sim_hash_fnv64(h, "\xFF", 1);
    if (getenv("SCN_TEST_VERBOSE"))
      printf("  | %s\n", lines[i]);
  }
  o->log_hash = h;
}

static void run(const struct run_opts *ro, struct outcome *o) {
  memset(o, 0, sizeof *o);
  struct scn *s = load_script(ro);
  struct rig g;
  rig_open(&g, s);
  struct scn_platform_ops ops = {.arg = g.srv,
                                 .command = op_command,
                                 .rule_add = ro->no_automations ? NULL : op_rule_add,
                                 .timer_add = op_timer_add,
                                 .metric = op_metric};
  struct scn_error err;
  int rc = scn_start(s, g.f, &ops, &err);
  if (ro->expect_start_error) {
    assert_int_equal(rc, SIM_EINVAL);
    o->failed = 1;
    o->err = err;
  } else {
    if (rc) {
      char m[1024];
      scn_error_format(&err, m, sizeof m);
      fail_msg("start: %s", m);
    }
    assert_int_equal(sim_vdriver_add(&g.d, scn_sched(s)), 0);
    assert_int_equal(sim_fleet_start(g.f), 0);
    drive(&g, s, ro, o);
    finish_run(&g, s, ro, o);
  }
  hash_log(s, o);
  rig_close(&g);
  scn_free(s);
  rig_free(&g);
}

static void test_api_script(void **state) {
  (void)state;
  struct run_opts ro = {.path = SCN_TEST_DIR "/api.lua"};
  struct outcome a, b;
  run(&ro, &a);
  printf("  %zu expectations: %zu passed, %zu failed; automation latency: %llu samples, p99 "
         "%.3f ms; %llu steps; %zu log lines\n",
         a.n_exp, a.passed, a.nfailed, (unsigned long long)a.automation_count,
         (double)a.automation_p99 / 1000.0, (unsigned long long)a.steps, a.n_log);
  assert_false(a.failed);
  assert_int_equal(a.n_exp, 12);
  /* 0: hubs.online >= 0.99 after 1m: broken by the power cut at 2 m (6 of 8 online) */
  assert_int_equal(a.verdict[0], SCN_FAIL);
  assert_true(a.value[0] == 0.75);
  assert_true(a.at_s[0] >= 120 && a.at_s[0] <= 122);
  for (size_t i = 1; i < a.n_exp; i++) {
    if (i == 10)
      assert_int_equal(a.verdict[i], SCN_FAIL); /* the deliberate one */
    else if (a.verdict[i] != SCN_PASS)
      fail_msg("expectation %zu did not pass", i);
  }
  assert_int_equal(a.passed, 10);
  assert_int_equal(a.nfailed, 2);
  assert_true(a.automation_count >= 1);
  assert_string_equal(a.phase, "settle");
  /* the second run is watched every second as a dashboard would: the same results */
  ro.peek = 1;
  run(&ro, &b);
  assert_memory_equal(a.verdict, b.verdict, sizeof a.verdict);
  assert_memory_equal(a.at_s, b.at_s, sizeof a.at_s);
  assert_int_equal(a.passed, b.passed);
  assert_int_equal(a.log_hash, b.log_hash);
  assert_int_equal(a.n_log, b.n_log);
  assert_int_equal(a.automation_count, b.automation_count);
  assert_int_equal(a.automation_p99, b.automation_p99);
  assert_int_equal(a.steps, b.steps);
  assert_memory_equal(a.value, b.value, sizeof a.value);
}

static void test_callback_error_stops_the_run(void **state) {
  (void)state;
  struct run_opts ro = {.path = "cb.lua",
                        .text = "scenario{duration = '30s', seed = 3}\n"
                                "fleet{hubs = 2, devices_per_hub = 2, mix = 'lumi.plug'}\n"
                                "at('5s', function()\n"
                                "  local t = nil\n"
                                "  log('about to fail')\n"
                                "  return t.field\n"
                                "end)\n"
                                "at('10s', function() log('never') end)\n"};
  struct outcome o;
  run(&ro, &o);
  assert_int_equal(o.failed, 1);
  char m[1024];
  scn_error_format(&o.err, m, sizeof m);
  printf("  %s\n", m);
  assert_string_equal(o.err.file, "cb.lua");
  assert_int_equal(o.err.line, 6);
  assert_non_null(strstr(o.err.message, "attempt to index a nil value (local 't')"));

  /* an endless loop in a callback: the budget stops it */
  ro.text = "scenario{duration = '20s', seed = 3}\n"
            "fleet{hubs = 1, devices_per_hub = 1, mix = 'lumi.plug'}\n"
            "every('2s', function(n)\n"
            "  if n == 3 then\n"
            "    while true do end\n"
            "  end\n"
            "end)\n";
  run(&ro, &o);
  assert_int_equal(o.failed, 1);
  scn_error_format(&o.err, m, sizeof m);
  printf("  %s\n", m);
  assert_int_equal(o.err.line, 5);
  assert_non_null(strstr(o.err.message, "instruction budget"));
}

static void test_platform_without_automations(void **state) {
  (void)state;
  struct run_opts ro = {
      .path = "noauto.lua",
      .text = "scenario{duration = '10s'}\n"
              "fleet{hubs = 2, devices_per_hub = 2, mix = 'lumi.plug'}\n"
              "\n"
              "platform.automation{when = {device = {hub = 0, slot = 0}, cluster = 6, attr = 0},\n"
              "  command = {device = {hub = 1, slot = 0}, ep = 1, cluster = 6, command = 2}}\n",
      .no_automations = 1,
      .expect_start_error = 1};
  struct outcome o;
  run(&ro, &o);
  char m[1024];
  scn_error_format(&o.err, m, sizeof m);
  printf("  %s\n", m);
  assert_int_equal(o.failed, 1);
  assert_int_equal(o.err.line, 4);
  assert_non_null(strstr(o.err.message, "this platform offers no automations"));
}

static int setup(void **state) {
  (void)state;
  return dev_catalog_register_all() < 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_api_script),
                                     cmocka_unit_test(test_callback_error_stops_the_run),
                                     cmocka_unit_test(test_platform_without_automations)};
  return cmocka_run_group_tests(tests, setup, NULL);
}
