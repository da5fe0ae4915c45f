/* A dashboard never changes a verdict. Every scenario of the library runs three times through
 * the real binary ($HUBSIM_BIN) with the same command line: headless, under the terminal
 * dashboard (--ui tui, in a detached tmux session: a real terminal) and under the graphical
 * one (--ui gui, SDL's offscreen video driver). On the virtual clock the three summaries must
 * be the same byte for byte and the exit codes equal; the dashboards run at their default pace
 * (ten simulated seconds a second), so runs longer than MAX_VIRTUAL_S of simulated time are cut
 * to it with --duration (the same for the three). And `hubsim run demo` on the real clock, as
 * a user types it on a terminal (where the terminal dashboard is the default) and with --ui
 * gui, must give the headless run's exit code and verdicts (figures differ from run to run on
 * the real clock; the verdicts must not).
 *
 * Every run is bounded (RUN_TIMEOUT_S); tmux missing skips the terminal half. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "scnrun.h"

#define RUN_TIMEOUT_S 240.0
#define MAX_VIRTUAL_S 30 /* simulated seconds: 3 s of wall time under a dashboard */

static const char *bin(void) {
  const char *b = getenv("HUBSIM_BIN");
  return b && *b ? b : "./hubsim";
}

static const char *src(void) {
  const char *s = getenv("HUBSIM_SOURCE_DIR");
  return s && *s ? s : ".";
}

static char tmpdir[512];
static int have_tmux;

static int group_setup(void **state) {
  (void)state;
  const char *t = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/hubsim-uiv-XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(tmpdir))
    return -1;
  const char *argv[] = {"/bin/sh", "-c", "command -v tmux", NULL};
  struct scnrun_out r;
  have_tmux = scnrun_run(argv, 30, &r) == 0;
  scnrun_free(&r);
  if (!have_tmux)
    printf("tmux is not installed: the terminal dashboard is not checked\n");
  /* the graphical dashboard draws into memory */
  setenv("SDL_VIDEODRIVER", "offscreen", 1);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  DIR *d = opendir(tmpdir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char p[8192];
      snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(tmpdir);
  return 0;
}

static void show(const char *what, const struct scnrun_out *r) {
  const char *o = r->out_len > 2000 ? r->out + r->out_len - 2000 : r->out;
  const char *e = r->err_len > 2000 ? r->err + r->err_len - 2000 : r->err;
  print_message("%s: exit %d%s after %.1f s\n--- stdout (end) ---\n%s\n--- stderr (end) ---\n%s\n",
                what, r->status, r->timed_out ? " (timed out)" : "", r->wall_s, o ? o : "",
                e ? e : "");
}

/* The arguments after `hubsim run`, as one shell-quoted string and as a list. */
struct args {
  const char *v[16];
  int n;
  char line[2048];
};

static void args_add(struct args *a, const char *s) {
  a->v[a->n++] = s;
  size_t l = strlen(a->line);
  snprintf(a->line + l, sizeof a->line - l, " '%s'", s);
}

/* Headless (or --ui gui): the exit code; r keeps what it printed. */
static int run_direct(const struct args *a, const char *ui, struct scnrun_out *r) {
  const char *argv[24];
  int n = 0;
  argv[n++] = bin();
  argv[n++] = "run";
  for (int i = 0; i < a->n; i++)
    argv[n++] = a->v[i];
  argv[n++] = "--ui";
  argv[n++] = ui;
  argv[n] = NULL;
  return scnrun_run(argv, RUN_TIMEOUT_S, r);
}

/* In a detached tmux session (120x40, a private server): `hubsim run ARGS [--ui tui]`; its exit
 * code once the run ends (-1: it did not end within RUN_TIMEOUT_S, -2: tmux failed). */
static int run_tui(const struct args *a, int explicit_ui, const char *tag) {
  char status[1024], errf[1024], cmd[16384], sock[64];
  snprintf(status, sizeof status, "%s/%s.status", tmpdir, tag);
  snprintf(errf, sizeof errf, "%s/%s.stderr", tmpdir, tag);
  snprintf(sock, sizeof sock, "hubsim-uiv-%d", (int)getpid());
  unlink(status);
  /* The server outlives the command that starts it: it gets /dev/null, not our pipes. */
  snprintf(cmd, sizeof cmd,
           "tmux -L %s -f /dev/null new-session -d -s uiv -x 120 -y 40 \""
           "TERM=xterm-256color; export TERM; unset NO_COLOR; '%s' run%s%s 2>'%s'; "
           "echo \\$? > '%s.tmp' && mv '%s.tmp' '%s'; sleep 600\" </dev/null >/dev/null 2>&1",
           sock, bin(), a->line, explicit_ui ? " --ui tui" : "", errf, status, status, status);
  const char *start[] = {"/bin/sh", "-c", cmd, NULL};
  struct scnrun_out r;
  int rc = scnrun_run(start, 30, &r);
  if (rc != 0)
    show("tmux new-session", &r);
  scnrun_free(&r);
  int code = rc == 0 ? -1 : -2;
  /* wait for the status file: the run's end */
  struct timespec pause = {0, 100 * 1000 * 1000};
  for (int i = 0; rc == 0 && i < (int)(RUN_TIMEOUT_S * 10); i++) {
    size_t n;
    char *s = scnrun_slurp(status, &n);
    if (s) {
      code = atoi(s);
      free(s);
      break;
    }
    nanosleep(&pause, NULL);
  }
  snprintf(cmd, sizeof cmd, "tmux -L %s kill-server </dev/null >/dev/null 2>&1", sock);
  const char *kill[] = {"/bin/sh", "-c", cmd, NULL};
  scnrun_run(kill, 30, &r);
  scnrun_free(&r);
  if (code < 0) {
    size_t n;
    char *e = scnrun_slurp(errf, &n);
    print_message("%s under the terminal dashboard: %s\n--- stderr ---\n%s\n", tag,
                  code == -1 ? "did not end" : "tmux failed", e ? e : "");
    free(e);
  }
  return code;
}

static char *read_summary(const char *path) {
  size_t n;
  char *s = scnrun_slurp(path, &n);
  if (!s)
    print_message("no summary at %s\n", path);
  return s;
}

/* The verdicts of a summary: each expectation's `"verdict": "..."` and the run's verdict
 * object (exit code and text), one per line. */
static void verdicts_of(const char *json, char *out, size_t cap) {
  out[0] = 0;
  size_t len = 0;
  for (const char *p = json; (p = strstr(p, "\"verdict\": ")) != NULL; p++) {
    const char *end = p[11] == '{' ? strchr(p, '}') : strchr(p, '\n');
    if (!end)
      break;
    len += (size_t)snprintf(out + len, cap > len ? cap - len : 0, "%.*s\n", (int)(end - p + 1), p);
  }
}

/* ---- the library on the virtual clock ----------------------------------------------------- */

static void test_library_virtual(void **state) {
  const char *name = *state;
  char path[8192], hs[8192], ts[8192], gs[8192], dur[32] = "";
  snprintf(path, sizeof path, "%s/scenarios/%s.lua", src(), name);
  /* its duration, to cut it when it is long */
  size_t n;
  char *text = scnrun_slurp(path, &n);
  assert_non_null(text);
  const char *d = strstr(text, "duration = \"");
  int cut = 1;
  if (d) {
    double v = strtod(d + 12, NULL);
    const char *u = d + 12 + strspn(d + 12, "0123456789.");
    double s = *u == 'h' ? v * 3600 : *u == 'm' ? v * 60 : v;
    cut = s > MAX_VIRTUAL_S;
  }
  free(text);
  if (cut)
    snprintf(dur, sizeof dur, "%ds", MAX_VIRTUAL_S);
  snprintf(hs, sizeof hs, "%s/%s-headless.json", tmpdir, name);
  snprintf(ts, sizeof ts, "%s/%s-tui.json", tmpdir, name);
  snprintf(gs, sizeof gs, "%s/%s-gui.json", tmpdir, name);
  struct args base = {.n = 0};
  args_add(&base, name);
  args_add(&base, "--clock");
  args_add(&base, "virtual");
  args_add(&base, "--seed");
  args_add(&base, "1");
  if (cut) {
    args_add(&base, "--duration");
    args_add(&base, dur);
  }
  args_add(&base, "--summary");
  struct args ah = base, at = base, ag = base;
  args_add(&ah, hs);
  args_add(&at, ts);
  args_add(&ag, gs);

  struct scnrun_out r;
  int rc_h = run_direct(&ah, "none", &r);
  if (rc_h < 0)
    show(name, &r);
  scnrun_free(&r);
  assert_true(rc_h >= 0);
  char *sh = read_summary(hs);
  assert_non_null(sh);
  char vh[8192];
  verdicts_of(sh, vh, sizeof vh);

  int rc_g = run_direct(&ag, "gui", &r);
  printf("%s%s%s: headless exit %d, gui exit %d", name, cut ? " --duration " : "", dur, rc_h, rc_g);
  if (rc_g != rc_h)
    show("gui", &r);
  scnrun_free(&r);
  char *sg = read_summary(gs);
  assert_non_null(sg);
  char vg[8192];
  verdicts_of(sg, vg, sizeof vg);
  if (strcmp(vg, vh) != 0)
    print_message("verdicts headless:\n%s\nverdicts gui:\n%s\n", vh, vg);
  assert_string_equal(vg, vh);
  assert_int_equal(rc_g, rc_h);
  assert_string_equal(sg, sh);

  if (have_tmux) {
    int rc_t = run_tui(&at, 1, name);
    printf(", tui exit %d", rc_t);
    assert_true(rc_t >= 0);
    char *st = read_summary(ts);
    assert_non_null(st);
    char vt[8192];
    verdicts_of(st, vt, sizeof vt);
    if (strcmp(vt, vh) != 0)
      print_message("verdicts headless:\n%s\nverdicts tui:\n%s\n", vh, vt);
    assert_string_equal(vt, vh);
    assert_int_equal(rc_t, rc_h);
    assert_string_equal(st, sh);
    free(st);
  }
  printf(": the same summaries\n");
  free(sh);
  free(sg);
}

/* ---- the demo on the real clock, as a user runs it ---------------------------------------- */

static void test_demo_real_clock(void **state) {
  (void)state;
  char hs[8192], ts[8192], gs[8192];
  snprintf(hs, sizeof hs, "%s/demo-real-headless.json", tmpdir);
  snprintf(ts, sizeof ts, "%s/demo-real-tui.json", tmpdir);
  snprintf(gs, sizeof gs, "%s/demo-real-gui.json", tmpdir);
  struct args ah = {.n = 0}, at = {.n = 0}, ag = {.n = 0};
  const char *sums[] = {hs, ts, gs};
  struct args *as[] = {&ah, &at, &ag};
  for (int i = 0; i < 3; i++) {
    args_add(as[i], "demo");
    /* The three must agree; whether the generator kept its pace is the machine's business (a
     * late one is a warning with it, the same under each dashboard). */
    args_add(as[i], "--allow-lag");
    args_add(as[i], "--summary");
    args_add(as[i], sums[i]);
  }

  struct scnrun_out r;
  int rc_h = run_direct(&ah, "none", &r);
  if (rc_h != 0)
    show("demo headless", &r);
  scnrun_free(&r);
  assert_int_equal(rc_h, 0); /* the demo passes on an ordinary machine */
  char *sh = read_summary(hs);
  assert_non_null(sh);
  char vh[8192];
  verdicts_of(sh, vh, sizeof vh);

  int rc_g = run_direct(&ag, "gui", &r);
  printf("demo (real clock): headless exit %d, gui exit %d", rc_h, rc_g);
  if (rc_g != rc_h)
    show("demo --ui gui", &r);
  scnrun_free(&r);
  char *sg = read_summary(gs);
  assert_non_null(sg);
  char vg[8192];
  verdicts_of(sg, vg, sizeof vg);
  if (strcmp(vg, vh) != 0)
    print_message("verdicts headless:\n%s\nverdicts gui:\n%s\n", vh, vg);
  assert_string_equal(vg, vh);
  assert_int_equal(rc_g, rc_h);

  if (have_tmux) {
    /* no --ui: on a terminal the dashboard is the default */
    int rc_t = run_tui(&at, 0, "demo-real");
    printf(", terminal (default dashboard) exit %d", rc_t);
    char *st = read_summary(ts);
    assert_non_null(st);
    char vt[8192];
    verdicts_of(st, vt, sizeof vt);
    if (strcmp(vt, vh) != 0)
      print_message("verdicts headless:\n%s\nverdicts tui:\n%s\n", vh, vt);
    assert_string_equal(vt, vh);
    assert_int_equal(rc_t, rc_h);
    free(st);
  }
  printf(": the same verdicts\n");
  free(sh);
  free(sg);
}

int main(void) {
  static char names[64][64];
  struct CMUnitTest tests[65];
  size_t n = 0;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/scenarios", src());
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "cannot open %s\n", dir);
    return 1;
  }
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    size_t l = strlen(e->d_name);
    if (l < 5 || strcmp(e->d_name + l - 4, ".lua") != 0)
      continue;
    snprintf(names[n], sizeof names[n], "%.*s", (int)(l - 4), e->d_name);
    tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_library_virtual, names[n]);
    tests[n].name = names[n];
    n++;
  }
  closedir(d);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_demo_real_clock);
  return _cmocka_run_group_tests("ui_verdicts", tests, n, group_setup, group_teardown);
}
