/* sim/core/wfile.c: a file is replaced whole or not at all, the temporary file is created
 * anew (never an existing file, never through a link planted by someone else), and nothing is
 * left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"
#include "sim/core/wfile.h"

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/hubsim-wfile-XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[512];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
  if (d)
    closedir(d);
  rmdir(dir);
  return 0;
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static const char *get(const char *path) {
  static char buf[256];
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* Entries of dir, "." and ".." aside. */
static int entries(void) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static void test_write_and_replace(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/out.json", dir);
  put(path, "old");
  struct sim_wfile w;
  assert_int_equal(sim_wfile_open(&w, path), 0);
  /* The temporary file is a dot file beside the target, and the target is still the old one. */
  assert_non_null(strstr(w.tmp, "/.out.json."));
  assert_string_equal(get(path), "old");
  fputs("new content", w.fp);
  assert_int_equal(sim_wfile_commit(&w), 0);
  assert_string_equal(get(path), "new content");
  assert_int_equal(entries(), 1);
  /* A plain fopen()'s mode: 0666 less the umask. */
  mode_t um = umask(0);
  umask(um);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0666 & ~um);
}

static void test_abort_leaves_nothing(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "%s/out.xml", dir);
  put(path, "kept");
  struct sim_wfile w;
  assert_int_equal(sim_wfile_open(&w, path), 0);
  fputs("half", w.fp);
  sim_wfile_abort(&w);
  assert_string_equal(get(path), "kept");
  assert_int_equal(entries(), 1);
}

/* Links planted by another user: at FILE.tmp (the name the writers once used) and at FILE
 * itself. Neither victim changes: the temporary file is created anew, and the rename replaces
 * the link at FILE rather than writing through it. */
static void test_planted_links(void **state) {
  (void)state;
  char path[128], tmp[160], victim[128], victim2[128];
  snprintf(path, sizeof path, "%s/summary.json", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  snprintf(victim, sizeof victim, "%s/victim", dir);
  snprintf(victim2, sizeof victim2, "%s/victim2", dir);
  put(victim, "precious");
  put(victim2, "precious too");
  assert_int_equal(symlink(victim, tmp), 0);
  assert_int_equal(symlink(victim2, path), 0);
  struct sim_wfile w;
  assert_int_equal(sim_wfile_open(&w, path), 0);
  fputs("{}", w.fp);
  assert_int_equal(sim_wfile_commit(&w), 0);
  assert_string_equal(get(victim), "precious");
  assert_string_equal(get(victim2), "precious too");
  struct stat sb;
  assert_int_equal(lstat(path, &sb), 0);
  assert_true(S_ISREG(sb.st_mode));
  assert_string_equal(get(path), "{}");
}

static void test_errors(void **state) {
  (void)state;
  struct sim_wfile w;
  assert_int_equal(sim_wfile_open(&w, ""), SIM_EINVAL);
  char p[128];
  snprintf(p, sizeof p, "%s/", dir);
  assert_int_equal(sim_wfile_open(&w, p), SIM_EINVAL);
  snprintf(p, sizeof p, "%s/missing/x.json", dir);
  assert_int_equal(sim_wfile_open(&w, p), -ENOENT);
  /* A directory at the target: the rename fails, nothing is left behind. */
  snprintf(p, sizeof p, "%s/adir", dir);
  assert_int_equal(mkdir(p, 0700), 0);
  assert_int_equal(sim_wfile_open(&w, p), 0);
  fputs("x", w.fp);
  assert_true(sim_wfile_commit(&w) < 0);
  assert_int_equal(entries(), 1);
  rmdir(p);
  assert_int_equal(entries(), 0);
}

/* sim_wfile_check: what an output flag is checked against before the work starts; each
 * problem has its sentence, and nothing is created. */
/* SIM_WFILE_STAGED with mode 0600: the file is created under its own name with that mode from
 * the start, never over an existing file or through a link; abort removes it. */
static void test_staged_mode(void **state) {
  (void)state;
  char path[128], link_path[128], victim[128];
  snprintf(path, sizeof path, "%s/hub.key", dir);
  struct sim_wfile w;
  assert_int_equal(sim_wfile_open_mode(&w, path, 0600, SIM_WFILE_STAGED), 0);
  assert_string_equal(w.tmp, path);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  fputs("secret", w.fp);
  assert_int_equal(sim_wfile_commit(&w), 0);
  assert_string_equal(get(path), "secret");
  assert_int_equal(entries(), 1);
  /* An existing file is refused, and kept. */
  assert_int_equal(sim_wfile_open_mode(&w, path, 0600, SIM_WFILE_STAGED), -EEXIST);
  assert_string_equal(get(path), "secret");
  /* A planted link is not followed. */
  snprintf(victim, sizeof victim, "%s/victim", dir);
  snprintf(link_path, sizeof link_path, "%s/other.key", dir);
  put(victim, "precious");
  assert_int_equal(symlink(victim, link_path), 0);
  assert_int_equal(sim_wfile_open_mode(&w, link_path, 0600, SIM_WFILE_STAGED), -EEXIST);
  assert_string_equal(get(victim), "precious");
  /* Abort removes what was started. */
  snprintf(path, sizeof path, "%s/half.key", dir);
  assert_int_equal(sim_wfile_open_mode(&w, path, 0600, SIM_WFILE_STAGED), 0);
  fputs("half", w.fp);
  sim_wfile_abort(&w);
  assert_null(get(path));
}

static void test_check(void **state) {
  (void)state;
  char why[300], p[160];
  assert_int_equal(sim_wfile_check("", why, sizeof why), SIM_EINVAL);
  assert_string_equal(why, "empty file name");
  snprintf(p, sizeof p, "%s/", dir);
  assert_int_equal(sim_wfile_check(p, why, sizeof why), SIM_EINVAL);
  assert_string_equal(why, "names a folder, not a file");
  assert_int_equal(sim_wfile_check(dir, why, sizeof why), SIM_EINVAL);
  assert_string_equal(why, "is a folder");
  snprintf(p, sizeof p, "%s/missing/x", dir);
  assert_int_equal(sim_wfile_check(p, why, sizeof why), SIM_EINVAL);
  assert_non_null(strstr(why, "does not exist"));
  snprintf(p, sizeof p, "%s/new.json", dir);
  assert_int_equal(sim_wfile_check(p, why, sizeof why), 0);
  assert_int_equal(entries(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_write_and_replace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_planted_links, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check, setup, teardown),
      cmocka_unit_test_setup_teardown(test_staged_mode, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
