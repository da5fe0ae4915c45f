/* The hubsim command line: help texts describe every flag, a bad flag or value exits 2 with a
 * message naming it (ranges, the one duration grammar, combinations that make no sense,
 * duplicates, TLS flags that cannot work), and a short run against the embedded platform ends with
 * exit 0, a summary in which nothing is lost, and a JSON file that parses. Secrets and files: the
 * fleet key from a file or the environment, never on a worker's command line; a link planted at the
 * summary's old temporary name is not followed. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

#include "support/platproc.h"

/* Runs HUBSIM_BIN with args (a shell-free argv), captures stdout+stderr into out. Returns the
 * exit code, or -1. */
static int nofile_cap; /* when > 0, the child runs with this open-file limit (soft and hard) */
static const char *child_env_key; /* when set, the child gets HUBSIM_FLEET_KEY=this */

static int run(const char *const *args, char *out, size_t cap) {
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    close(pfd[0]);
    if (nofile_cap > 0) {
      struct rlimit rl = {(rlim_t)nofile_cap, (rlim_t)nofile_cap};
      setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (child_env_key)
      setenv("HUBSIM_FLEET_KEY", child_env_key, 1);
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 63; i++)
      argv[n++] = args[i];
    argv[n] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(pfd[1]);
  size_t used = 0;
  ssize_t r;
  while ((r = read(pfd[0], out + used, cap - 1 - used)) > 0 && used < cap - 1)
    used += (size_t)r;
  out[used] = 0;
  close(pfd[0]);
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char buf[1 << 16];

static void test_help(void **state) {
  (void)state;
  const char *a1[] = {"--help", NULL};
  assert_int_equal(run(a1, buf, sizeof(buf)), 0);
  assert_non_null(strstr(buf, "run"));
  assert_non_null(strstr(buf, "platform"));
  const char *a2[] = {"run", "--help", NULL};
  assert_int_equal(run(a2, buf, sizeof(buf)), 0);
  static const char *flags[] = {
      "--hubs",      "--warmup",         "--allow-lag", "--ui",      "--devices-per-hub",
      "--mix",       "--duration",       "--seed",      "--ramp",    "--fleet-key",
      "--bind",      "--platform",       "--summary",   "--speedup", "--drain",
      "--max-lag",   "--command-rate",   "--db",        "--quiet",   "--fleet-key-file",
      "--queue-max", "HUBSIM_FLEET_KEY", NULL};
  for (int i = 0; flags[i]; i++)
    assert_non_null(strstr(buf, flags[i]));
  const char *a3[] = {"platform", "--help", NULL};
  assert_int_equal(run(a3, buf, sizeof(buf)), 0);
  assert_non_null(strstr(buf, "--listen"));
  assert_non_null(strstr(buf, "--db"));
}

static void expect_usage_error(const char *const *args, const char *named) {
  int rc = run(args, buf, sizeof(buf));
  if (rc != 2 || !strstr(buf, named))
    fail_msg("exit %d for '%s', output: %s", rc, named, buf);
}

static void test_bad_flags(void **state) {
  (void)state;
  const char *a[][8] = {
      {"frobnicate", NULL},
      {"run", "--hubs", "0", NULL},
      {"run", "--hubs", "ten", NULL},
      {"run", "--devices-per-hub", "70000", NULL},
      {"run", "--duration", "5 minutes", NULL},
      {"run", "--duration", "-3s", NULL},
      {"run", "--mix", "lumi.no_such_model", NULL},
      {"run", "--mix", "lumi.plug.maeu01:-1", NULL},
      {"run", "--seed", "x", NULL},
      {"run", "--ramp", "fast", NULL},
      {"run", "--bind", "300.0.0.1", NULL},
      {"run", "--platform", "hubrpc://127.0.0.1", NULL},
      {"run", "--speedup", "0", NULL},
      {"run", "--ui", "holo", NULL},
      {"run", "--no-such-flag", NULL},
      {"run", "--hubs", NULL},
      {"run", "scenario.lua", NULL},
      {"platform", "--window", "0", NULL},
  };
  const char *named[] = {"frobnicate",
                         "--hubs",
                         "--hubs",
                         "--devices-per-hub",
                         "--duration",
                         "--duration",
                         "lumi.no_such_model",
                         "--mix",
                         "--seed",
                         "--ramp",
                         "--bind",
                         "--platform",
                         "--speedup",
                         "--ui",
                         "--no-such-flag",
                         "--hubs",
                         "scenario.lua",
                         "--window"};
  for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
    expect_usage_error(a[i], named[i]);
}

/* Values out of range, numbers that are not plain decimal text, flags that make no sense
 * together and flags given twice: each refused at load time, exit 2, naming the input. */
static void test_bad_values_and_combinations(void **state) {
  (void)state;
  static const char *const a[][10] = {
      /* TLS flags that cannot work: a CA file that is none, TLS flags without TLS. */
      {"run", "--hubs", "2", "--platform", "hubrpcs://127.0.0.1:7443", "--ca",
       "/nonexistent/ca.pem", NULL},
      {"run", "--hubs", "2", "--platform", "HUBRPCS://127.0.0.1:7443", "--ca", "x", "--insecure",
       NULL},
      {"run", "--hubs", "2", "--platform", "mem://platform:1", NULL},
      {"run", "--hubs", "2", "--platform", "hubrpc://localhost:7800", NULL},
      {"run", "--hubs", "2", "--platform", "hubrpc://127.0.0.1:0", NULL},
      /* Durations: one grammar, finite, at most 365 days. */
      {"run", "--duration", "1e308", NULL},
      {"run", "--duration", "1e308s", NULL},
      {"run", "--duration", "inf", NULL},
      {"run", "--duration", "nan", NULL},
      {"run", "--duration", "0x10s", NULL},
      {"run", "--duration", "366d", NULL},
      {"run", "--duration", "0s", NULL},
      {"run", "--duration", " 5s", NULL},
      {"run", "--hubs", "2", "--drain", "1e9", NULL},
      {"run", "--hubs", "2", "--drain", "-1s", NULL},
      {"run", "--hubs", "2", "--warmup", "99999999999999999999d", NULL},
      {"run", "--hubs", "2", "--sleepy-hold", "0", NULL},
      {"run", "--hubs", "2", "--max-lag", "1e400", NULL},
      {"run", "--hubs", "2", "--max-lag", "-5", NULL},
      {"run", "--hubs", "2", "--radio-delay", "11s", NULL},
      /* Numbers: plain decimal text in range. */
      {"run", "--hubs", "1e3", NULL},
      {"run", "--hubs", "+5", NULL},
      {"run", "--hubs", " 5", NULL},
      {"run", "--hubs", "99999999999999999999999", NULL},
      {"run", "--hubs", "2", "--seed", "18446744073709551616", NULL},
      {"run", "--hubs", "2", "--ramp", "inf", NULL},
      {"run", "--hubs", "2", "--ramp", "1e3", NULL},
      {"run", "--hubs", "2", "--speedup", "nan", NULL},
      {"run", "--hubs", "2", "--radio-loss", "0x1p-1", NULL},
      {"run", "--hubs", "2", "--command-rate", "-1", NULL},
      {"run", "--hubs", "2", "--queue-max", "0", NULL},
      {"run", "--hubs", "2", "--queue-max", "2000000", NULL},
      {"run", "--hubs", "2", "--workers", "0", NULL},
      {"run", "--hubs", "16777215", "--devices-per-hub", "65535", "--clock", "virtual", NULL},
      /* Combinations. */
      {"run", "--hubs", "2", "--db", "/tmp/x.db", "--platform", "hubrpc://127.0.0.1:7800", NULL},
      {"run", "--hubs", "2", "--command-rate", "9", "--platform", "hubrpc://127.0.0.1:7800", NULL},
      {"run", "--hubs", "2", "--platform-admin", "127.0.0.1:7801", NULL},
      {"run", "--hubs", "2", "--platform", "hubrpc://127.0.0.1:7800", "--platform-admin",
       "admin:7801", NULL},
      {"run", "--after", "10s", "--hubs", "2", NULL},
      {"run", "--hubs", "2", "--summary", "/tmp/same", "--junit", "/tmp/same", NULL},
      {"run", "--hubs", "2", "--duration", "5s", "--warmup", "5s", NULL},
      {"run", "--hubs", "2", "--workers", "3", NULL},
      {"run", "--hubs", "2", "--clock", "virtual", "--bind", "127.0.0.2", NULL},
      {"run", "--hubs", "2", "--fleet-key", "k", "--fleet-key-file", "/nonexistent-key", NULL},
      /* Output files that could not be written at the end of the run. */
      {"run", "--hubs", "2", "--junit", "/nonexistent-dir/r.xml", NULL},
      {"run", "--hubs", "2", "--summary", "/tmp", NULL},
      {"run", "--hubs", "2", "--summary", "/tmp/", NULL},
      /* Duplicates: a second value silently replaced the first. */
      {"run", "--hubs", "5", "--hubs", "10", NULL},
      {"run", "--duration", "5s", "--duration=10s", NULL},
      {"run", "--hubs", "2", "-q", "--quiet", NULL},
      {"devices", "sample", "lumi.plug.maeu01", "--seed", "1", "--seed", "2", NULL},
      {"devices", "sample", "lumi.plug.maeu01", "--duration", "1e308", NULL},
  };
  static const char *const named[] = {
      "/nonexistent/ca.pem",
      "--insecure",
      "mem://platform:1",
      "localhost",
      "--platform",
      "--duration",
      "--duration",
      "--duration",
      "--duration",
      "--duration",
      "--duration",
      "--duration",
      "--duration",
      "--drain",
      "--drain",
      "--warmup",
      "--sleepy-hold",
      "--max-lag",
      "--max-lag",
      "--radio-delay",
      "--hubs",
      "--hubs",
      "--hubs",
      "--hubs",
      "--seed",
      "--ramp",
      "--ramp",
      "--speedup",
      "--radio-loss",
      "--command-rate",
      "--queue-max",
      "--queue-max",
      "--workers",
      "--hubs",
      "--db",
      "--command-rate",
      "--platform-admin",
      "--platform-admin",
      "--after",
      "--junit",
      "--warmup",
      "--workers",
      "--bind",
      "--fleet-key-file",
      "--junit",
      "--summary",
      "--summary",
      "--hubs",
      "--duration",
      "--quiet",
      "--seed",
      "--duration",
  };
  assert_int_equal(sizeof(a) / sizeof(a[0]), sizeof(named) / sizeof(named[0]));
  for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
    expect_usage_error(a[i], named[i]);
  /* The screenshot must fall within the run. */
  const char *late[] = {"run", "--hubs",       "2",          "--duration", "5s",  "--ui",
                        "gui", "--screenshot", "/tmp/s.png", "--after",    "10s", NULL};
  expect_usage_error(late, "--after");
  static char longpath[700];
  memset(longpath, 'a', sizeof longpath - 1);
  memcpy(longpath, "/tmp/", 5);
  const char *shot[] = {"run", "--hubs", "2", "--ui", "gui", "--screenshot", longpath, NULL};
  expect_usage_error(shot, "--screenshot");
}

/* --fleet-key-file: a missing, empty or world-readable file is refused with the file named
 * (world-readable: a key every local user can read is no secret; group-readable is allowed);
 * HUBSIM_FLEET_KEY set but empty is refused too. */
static void test_key_file_errors(void **state) {
  (void)state;
  char kf[128];
  snprintf(kf, sizeof kf, "/tmp/hubsim-cli-key-%d", (int)getpid());
  unlink(kf);
  const char *a[] = {"run", "--hubs", "2", "--duration", "1s", "--fleet-key-file", kf, "-q", NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 2 || !strstr(buf, kf) || !strstr(buf, "No such file"))
    fail_msg("missing: exit %d: %s", rc, buf);
  int fd = open(kf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  close(fd);
  rc = run(a, buf, sizeof(buf));
  if (rc != 2 || !strstr(buf, kf) || !strstr(buf, "is empty"))
    fail_msg("empty: exit %d: %s", rc, buf);
  fd = open(kf, O_WRONLY | O_TRUNC);
  assert_int_equal(write(fd, "k3y\n", 4), 4);
  close(fd);
  chmod(kf, 0644);
  rc = run(a, buf, sizeof(buf));
  if (rc != 2 || !strstr(buf, kf) || !strstr(buf, "other users"))
    fail_msg("world-readable: exit %d: %s", rc, buf);
  unlink(kf);
  child_env_key = "";
  const char *b[] = {"run", "--hubs", "2", "--duration", "1s", "-q", NULL};
  rc = run(b, buf, sizeof(buf));
  child_env_key = NULL;
  if (rc != 2 || !strstr(buf, "HUBSIM_FLEET_KEY"))
    fail_msg("empty HUBSIM_FLEET_KEY: exit %d: %s", rc, buf);
}

/* A scenario's fleet key longer than the fleet's 128 bytes was copied over what follows it;
 * it is refused at load time, naming the script. */
static void test_scenario_key_too_long(void **state) {
  (void)state;
  char script[128];
  snprintf(script, sizeof script, "/tmp/hubsim-cli-longkey-%d.lua", (int)getpid());
  FILE *f = fopen(script, "w");
  assert_non_null(f);
  fputs("scenario{name = \"longkey\", duration = \"1s\"}\n"
        "fleet{hubs = 1, devices_per_hub = 1, key = string.rep(\"k\", 200)}\n",
        f);
  fclose(f);
  const char *a[] = {"run", script, "--clock", "virtual", "-q", NULL};
  int rc = run(a, buf, sizeof(buf));
  unlink(script);
  if (rc != 2 || !strstr(buf, script) || !strstr(buf, "key is 200 bytes long"))
    fail_msg("exit %d: %s", rc, buf);
}

/* The command line of process pid, its NULs turned into spaces. 0, or -1 when it is gone. */
static int cmdline_of(pid_t pid, char *out, size_t cap) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/cmdline", (int)pid);
  int fd = open(p, O_RDONLY);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n <= 0)
    return -1;
  for (ssize_t i = 0; i < n; i++)
    if (!out[i])
      out[i] = ' ';
  out[n] = '\0';
  return 0;
}

/* Children of parent (their pids), from /proc. */
static int children_of(pid_t parent, pid_t *kids, int cap) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) && n < cap) {
    char p[300], st[512];
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
      continue;
    ssize_t r = read(fd, st, sizeof st - 1);
    close(fd);
    if (r <= 0)
      continue;
    st[r] = '\0';
    /* pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'. */
    const char *rp = strrchr(st, ')');
    int ppid = 0;
    char state;
    if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == parent)
      kids[n++] = (pid_t)atoi(e->d_name);
  }
  if (d)
    closedir(d);
  return n;
}

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A --workers run: its workers' command lines are read while they run (what `ps` shows every
 * local user) and must not hold the key; the run must pass, so the key reached them. */
static void workers_keep_key_off_argv(const char *const *args, const char *key,
                                      int control_may_show) {
  const char *bin = getenv("HUBSIM_BIN");
  char out[128];
  snprintf(out, sizeof out, "/tmp/hubsim-cli-wk-%d.out", (int)getpid());
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    if (child_env_key)
      setenv("HUBSIM_FLEET_KEY", child_env_key, 1);
    const char *argv[32];
    int n = 0;
    argv[n++] = bin;
    for (int i = 0; args[i] && n < 31; i++)
      argv[n++] = args[i];
    argv[n] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  /* Watch until both workers were seen (bounded by the run's own deadline). */
  int seen = 0, st = 0, done = 0;
  char cl[4096];
  double deadline = mono() + 60;
  while (!done && mono() < deadline) {
    pid_t kids[8];
    int n = children_of(pid, kids, 8);
    for (int i = 0; i < n; i++) {
      /* A worker once it runs its own program: between fork and exec a child still shows the
       * control process's command line. */
      if (cmdline_of(kids[i], cl, sizeof cl) != 0 || !strstr(cl, " run --worker "))
        continue;
      if (strstr(cl, key))
        fail_msg("the fleet key is on a worker's command line: %s", cl);
      seen |= strstr(cl, "--worker 0/2") ? 1 : strstr(cl, "--worker 1/2") ? 2 : 0;
    }
    if (!control_may_show && cmdline_of(pid, cl, sizeof cl) == 0 && strstr(cl, key))
      fail_msg("the fleet key is on the control process's command line: %s", cl);
    if (waitpid(pid, &st, WNOHANG) == pid)
      done = 1;
    else
      usleep(2000); /* the workers appear within the run's first moments: look again soon */
  }
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  FILE *f = fopen(out, "r");
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = '\0';
  unlink(out);
  if (!done || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || seen != 3)
    fail_msg("exit %d, workers seen %d: %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, seen, buf);
}

static void test_worker_key_not_in_argv(void **state) {
  (void)state;
  static const char key[] = "s3cret-fleet-key-7f2a";
  /* --fleet-key: the user's own command line shows it (the help says so), the workers' not. */
  const char *a[] = {"run", "--workers",  "2",  "--hubs",    "4",  "--devices-per-hub",
                     "2",   "--duration", "2s", "--speedup", "50", "--fleet-key",
                     key,   "-q",         NULL};
  workers_keep_key_off_argv(a, key, 1);
  /* --fleet-key-file: on no command line at all. */
  char kf[128];
  snprintf(kf, sizeof kf, "/tmp/hubsim-cli-wkey-%d", (int)getpid());
  int fd = open(kf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, key, sizeof key - 1), (ssize_t)(sizeof key - 1));
  assert_int_equal(write(fd, "\n", 1), 1);
  close(fd);
  const char *b[] = {"run", "--workers",  "2",  "--hubs",    "4",  "--devices-per-hub",
                     "2",   "--duration", "2s", "--speedup", "50", "--fleet-key-file",
                     kf,    "-q",         NULL};
  workers_keep_key_off_argv(b, key, 0);
  unlink(kf);
  /* HUBSIM_FLEET_KEY: likewise. */
  child_env_key = key;
  const char *c[] = {"run", "--workers",  "2",  "--hubs",    "4",  "--devices-per-hub",
                     "2",   "--duration", "2s", "--speedup", "50", "-q",
                     NULL};
  workers_keep_key_off_argv(c, key, 0);
  child_env_key = NULL;
}

/* Workers get the control process's command line as given, less the flags it keeps: fleet
 * flags in every spelling getopt reads (--flag=value, an abbreviated --flag, a value in the
 * next word) reach them, and the control process's own flags (--db, --command-rate, --summary,
 * --allow-lag, --ui, --clock) do not (a worker would refuse --db and --command-rate beside the
 * --platform it is given, and the run would fail). */
static void test_worker_flags_as_given(void **state) {
  (void)state;
  char db[128], js[128];
  snprintf(db, sizeof(db), "/tmp/hubsim-cli-wf-%d.db", (int)getpid());
  snprintf(js, sizeof(js), "/tmp/hubsim-cli-wf-%d.json", (int)getpid());
  const char *a[] = {"run",
                     "--workers",
                     "2",
                     "--hubs=6",
                     "--devices-per",
                     "3",
                     "--mix=lumi.plug.maeu01",
                     "--duration",
                     "2s",
                     "--speedup",
                     "50",
                     "--seed=4",
                     "--db",
                     db,
                     "--command-rate",
                     "2",
                     "--summary",
                     js,
                     "--allow-lag",
                     "--ui",
                     "none",
                     "--clock=real",
                     "-q",
                     NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 0)
    fail_msg("exit %d: %s", rc, buf);
  assert_int_equal(platproc_query(db, "SELECT count(*) FROM hubs"), 6);
  assert_int_equal(platproc_query(db, "SELECT count(*) FROM devices"), 18);
  assert_int_equal(
      platproc_query(db, "SELECT count(*) FROM devices WHERE model = 'lumi.plug.maeu01'"), 18);
  unlink(js);
  const char *sfx[] = {"", "-wal", "-shm"};
  char p[160];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", db, sfx[i]);
    unlink(p);
  }
}

/* The summary writer once wrote through a link planted at FILE.tmp: here the link points at a
 * victim file, which must be untouched after the run, and FILE must be the summary. */
static void test_summary_link_not_followed(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-cli-link-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128], tmp[160], victim[128];
  snprintf(path, sizeof path, "%s/s.json", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(victim, sizeof victim, "%s/victim", dir);
  int fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_int_equal(write(fd, "precious", 8), 8);
  close(fd);
  assert_int_equal(symlink(victim, tmp), 0);
  const char *a[] = {"run", "--hubs", "2", "--duration", "1s", "--summary", path, "-q", NULL};
  int rc = run(a, buf, sizeof(buf));
  char got[32] = "";
  fd = open(victim, O_RDONLY);
  ssize_t n = read(fd, got, sizeof got - 1);
  close(fd);
  got[n > 0 ? n : 0] = '\0';
  struct stat sb;
  int regular = lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
  unlink(path);
  unlink(tmp);
  unlink(victim);
  rmdir(dir);
  if (rc != 0 || strcmp(got, "precious") != 0 || !regular)
    fail_msg("exit %d; the victim holds \"%.20s\"; %s is %sa regular file", rc, got, path,
             regular ? "" : "not ");
}

static void test_short_run(void **state) {
  (void)state;
  char path[256];
  snprintf(path, sizeof(path), "/tmp/hubsim-cli-%d.json", (int)getpid());
  const char *a[] = {
      "run", "--hubs", "30", "--devices-per-hub", "4",  "--duration", "2s", "--speedup",
      "50",  "--seed", "3",  "--summary",         path, "-q",         NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 0)
    fail_msg("exit %d: %s", rc, buf);
  assert_non_null(strstr(buf, "lost 0"));
  assert_non_null(strstr(buf, "PASS"));
  json_error_t err;
  json_t *j = json_load_file(path, 0, &err);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "schema")), "hubsim.summary/1");
  json_t *counts = json_object_get(j, "counts");
  json_t *rep = json_object_get(counts, "reports");
  json_int_t sent = json_integer_value(json_object_get(rep, "sent"));
  json_int_t acked = json_integer_value(json_object_get(rep, "acked"));
  assert_true(sent > 0);
  assert_int_equal(sent, acked);
  assert_int_equal(json_integer_value(json_object_get(counts, "lost")), 0);
  json_int_t stored =
      json_integer_value(json_object_get(json_object_get(j, "platform_counts"), "reports_stored"));
  assert_int_equal(stored, acked);
  json_decref(j);
  unlink(path);
  /* Nothing half-written: a summary path in a missing folder is refused before the run. */
  const char *b[] = {
      "run", "--hubs", "2", "--duration", "1s", "--summary", "/nonexistent-dir/s.json", "-q", NULL};
  rc = run(b, buf, sizeof(buf));
  assert_int_equal(rc, 2);
  assert_non_null(strstr(buf, "/nonexistent-dir/s.json"));
}

static void test_platform_unreachable(void **state) {
  (void)state;
  /* Port 1 on loopback: nothing listens there. Hubs back off and retry; the run ends with
   * exit 3 and says why. */
  const char *a[] = {"run",    "--platform", "hubrpc://127.0.0.1:1",
                     "--hubs", "3",          "--duration",
                     "1s",     "--drain",    "0s",
                     "-q",     NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 3)
    fail_msg("exit %d: %s", rc, buf);
  assert_non_null(strstr(buf, "ECONNREFUSED"));
}

static void test_generator_late(void **state) {
  (void)state;
  /* --max-lag 0: any measured tick lag is too much, so the generator is late: exit 4, and the
   * verdict says why. --allow-lag turns it into a warning with exit 0. 50 hubs: devices wake only
   * when they send, so a few hubs give a handful of wakeups, which may all be on time. */
  const char *a[] = {"run", "--hubs",    "50", "--duration", "1s", "--speedup",
                     "100", "--max-lag", "0",  "-q",         NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 4 || !strstr(buf, "could not keep its schedule"))
    fail_msg("exit %d: %s", rc, buf);
  const char *b[] = {"run", "--hubs",    "50", "--duration",  "1s", "--speedup",
                     "100", "--max-lag", "0",  "--allow-lag", "-q", NULL};
  rc = run(b, buf, sizeof(buf));
  if (rc != 0 || !strstr(buf, "fell behind its schedule"))
    fail_msg("exit %d: %s", rc, buf);
}

static void test_open_file_limit(void **state) {
  (void)state;
  /* A fleet that cannot fit in the process's open files is refused up front, naming --hubs. */
  nofile_cap = 256;
  const char *a[] = {"run", "--hubs", "300", "--duration", "1s", NULL};
  int rc = run(a, buf, sizeof(buf));
  nofile_cap = 0;
  if (rc != 3 || !strstr(buf, "--hubs 300") || !strstr(buf, "256"))
    fail_msg("exit %d: %s", rc, buf);
}

/* --workers N: the fleet runs in N processes and its figures are merged exactly; and the fleet
 * is the same whatever N: the same hubs, the same devices of the same models for a seed. */
static void test_workers(void **state) {
  (void)state;
  char db1[128], db3[128], js[128];
  snprintf(db1, sizeof(db1), "/tmp/hubsim-cli-w1-%d.db", (int)getpid());
  snprintf(db3, sizeof(db3), "/tmp/hubsim-cli-w3-%d.db", (int)getpid());
  snprintf(js, sizeof(js), "/tmp/hubsim-cli-w3-%d.json", (int)getpid());
  /* --allow-lag: counts are checked here; a generator late on a busy machine is a warning. */
  const char *a[] = {"run",         "--workers",  "3",  "--hubs",    "61", "--devices-per-hub",
                     "5",           "--duration", "2s", "--speedup", "50", "--seed",
                     "9",           "--db",       db3,  "--summary", js,   "-q",
                     "--allow-lag", NULL};
  int rc = run(a, buf, sizeof(buf));
  if (rc != 0)
    fail_msg("exit %d: %s", rc, buf);
  json_error_t err;
  json_t *j = json_load_file(js, 0, &err);
  assert_non_null(j);
  json_int_t wpss =
      json_integer_value(json_object_get(json_object_get(j, "generator"), "max_pss_bytes"));
  json_int_t wrss =
      json_integer_value(json_object_get(json_object_get(j, "generator"), "max_rss_bytes"));
  if (wpss <= 0 || wpss > wrss)
    fail_msg("workers: max_pss_bytes %lld with max_rss_bytes %lld", (long long)wpss,
             (long long)wrss);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "generator"), "workers")),
                   3);
  json_t *rep = json_object_get(json_object_get(j, "counts"), "reports");
  json_int_t acked = json_integer_value(json_object_get(rep, "acked"));
  assert_true(acked > 0);
  assert_int_equal(json_integer_value(json_object_get(rep, "sent")), acked);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(j, "platform_counts"), "reports_stored")),
      acked);
  json_decref(j);
  const char *b[] = {
      "run",  "--hubs", "61", "--devices-per-hub", "5", "--duration", "1s", "--seed", "9",
      "--db", db1,      "-q", "--allow-lag",       NULL};
  rc = run(b, buf, sizeof(buf));
  if (rc != 0)
    fail_msg("exit %d: %s", rc, buf);
  /* The same 61 hubs and 305 devices, with the same model for every IEEE address. */
  static const char *q[] = {"SELECT count(*) FROM hubs", "SELECT count(*) FROM devices",
                            "SELECT sum((eui64 % 1000003) * length(model)) FROM devices",
                            "SELECT sum(length(hub_id) * (eui64 % 7919)) FROM devices"};
  for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
    long long v1 = platproc_query(db1, q[i]), v3 = platproc_query(db3, q[i]);
    if (v1 != v3 || v1 <= 0)
      fail_msg("%s: %lld with 1 process, %lld with 3 workers", q[i], v1, v3);
  }
  assert_int_equal(platproc_query(db3, "SELECT count(*) FROM hubs"), 61);
  const char *sfx[] = {"", "-wal", "-shm"};
  char p[160];
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof(p), "%s%s", db1, sfx[i]);
    unlink(p);
    snprintf(p, sizeof(p), "%s%s", db3, sfx[i]);
    unlink(p);
  }
  unlink(js);
}

/* The summary's peak RSS is hubsim's own, even when a parent much larger than hubsim started
 * it: ru_maxrss survives execve, VmHWM does not. The child of this test first grows to 400 MB,
 * then execs hubsim run (of a few hubs, far below that). */
static void test_peak_rss_is_own(void **state) {
  (void)state;
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  char path[] = "/tmp/hubsim-rss-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    enum { BIG = 400 << 20 };
    volatile char *big = malloc(BIG);
    if (!big)
      _exit(126);
    for (size_t i = 0; i < BIG; i += 4096)
      big[i] = 1;
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(bin, bin, "run", "--hubs", "2", "--duration", "1s", "-q", "--ui", "none", "--allow-lag",
          "--summary", path, (char *)NULL);
    _exit(127);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  json_error_t err;
  json_t *j = json_load_file(path, 0, &err);
  unlink(path);
  assert_non_null(j);
  json_t *gen = json_object_get(j, "generator");
  json_int_t rss = json_integer_value(json_object_get(gen, "max_rss_bytes"));
  json_int_t pss = json_integer_value(json_object_get(gen, "max_pss_bytes"));
  json_decref(j);
  if (rss <= 0 || rss >= 200 << 20)
    fail_msg("max_rss_bytes %lld: not the peak of hubsim run itself", (long long)rss);
  /* A share of the resident pages: above 0, never above the peak of all of them. */
  if (pss <= 0 || pss > rss)
    fail_msg("max_pss_bytes %lld with max_rss_bytes %lld", (long long)pss, (long long)rss);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_bad_values_and_combinations),
      cmocka_unit_test(test_key_file_errors),
      cmocka_unit_test(test_scenario_key_too_long),
      cmocka_unit_test(test_worker_key_not_in_argv),
      cmocka_unit_test(test_summary_link_not_followed),
      cmocka_unit_test(test_short_run),
      cmocka_unit_test(test_platform_unreachable),
      cmocka_unit_test(test_open_file_limit),
      cmocka_unit_test(test_generator_late),
      cmocka_unit_test(test_workers),
      cmocka_unit_test(test_peak_rss_is_own),
      cmocka_unit_test(test_worker_flags_as_given),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
