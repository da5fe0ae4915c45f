/* sim/core/keyfile.c: a fleet key from a file. The key is the file's bytes less one trailing
 * newline; a missing, empty, non-regular or world-readable file is refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"
#include "sim/core/keyfile.h"

static char path[64];

static void put(const void *p, size_t n, mode_t mode) {
  unlink(path);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state) {
  (void)state;
  snprintf(path, sizeof path, "/tmp/hubsim-keyfile-%d", (int)getpid());
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(path);
  return 0;
}

static void test_key(void **state) {
  (void)state;
  uint8_t k[128];
  size_t n = 0;
  const char *why;
  put("s3cret\n", 7, 0600);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), 0);
  assert_int_equal(n, 6);
  assert_memory_equal(k, "s3cret", 6);
  put("s3cret\r\n", 8, 0640); /* group-readable is fine: a deploy group may share it */
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), 0);
  assert_int_equal(n, 6);
  put("two\nlines", 9, 0400);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), 0);
  assert_int_equal(n, 9);
  memset(k, 'x', sizeof k);
  put(k, 128, 0600);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), 0);
  assert_int_equal(n, 128);
}

static void test_refused(void **state) {
  (void)state;
  uint8_t k[128], big[129];
  size_t n = 99;
  const char *why;
  unlink(path);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), -ENOENT);
  assert_non_null(strstr(why, "No such file"));
  put("", 0, 0600);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), SIM_EINVAL);
  assert_string_equal(why, "is empty");
  put("\n", 1, 0600);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), SIM_EINVAL);
  assert_string_equal(why, "is empty");
  put("key\n", 4, 0644);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), SIM_EINVAL);
  assert_non_null(strstr(why, "mode 0644"));
  put("key\n", 4, 0602);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), SIM_EINVAL);
  put("a\0b", 3, 0600);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), SIM_EINVAL);
  assert_string_equal(why, "holds a NUL byte");
  memset(big, 'x', sizeof big);
  put(big, sizeof big, 0600);
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), SIM_ETOOBIG);
  assert_int_equal(n, 99); /* nothing written on failure */
  unlink(path);
  assert_int_equal(mkfifo(path, 0600), 0); /* would block a plain read: refused at once */
  assert_int_equal(sim_keyfile_read(path, k, sizeof k, &n, &why), SIM_EINVAL);
  assert_string_equal(why, "is not a regular file");
  assert_int_equal(sim_keyfile_read("/tmp", k, sizeof k, &n, &why), SIM_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_key), cmocka_unit_test(test_refused)};
  return cmocka_run_group_tests(tests, setup, teardown);
}
