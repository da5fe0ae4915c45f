#include "mqrun.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  struct mq_run *r = p->data;
  r->status = sig ? 128 + sig : (int)status;
  r->exited = 1;
  uv_close((uv_handle_t *)p, NULL);
}

void mq_run_start(struct mq_run *r, struct mq_loop *m, const char *name, const char *const *args) {
  const char *bin = getenv("HUBSIM_BIN");
  assert_non_null(bin);
  memset(r, 0, sizeof *r);
  snprintf(r->log, sizeof r->log, "%s/%s.log", m->dir, name);
  snprintf(r->summary, sizeof r->summary, "%s/%s.json", m->dir, name);
  unlink(r->summary);
  const char *argv[52];
  int n = 0;
  argv[n++] = bin;
  argv[n++] = "run";
  for (int i = 0; args[i]; i++) {
    assert_true(n < 44);
    argv[n++] = args[i];
  }
  /* Counts, never speed: a generator late on a busy machine (ASan, two cores) is a warning
   * here, not the failure of a test about what was delivered. */
  argv[n++] = "--allow-lag";
  argv[n++] = "-q";
  argv[n++] = "--ui";
  argv[n++] = "none";
  argv[n++] = "--summary";
  argv[n++] = r->summary;
  argv[n] = NULL;
  int fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                {.flags = UV_INHERIT_FD, .data.fd = fd},
                                {.flags = UV_INHERIT_FD, .data.fd = fd}};
  uv_process_options_t po = {
      .exit_cb = on_exit_cb, .file = bin, .args = (char **)argv, .stdio = io, .stdio_count = 3};
  r->proc.data = r;
  int rc = uv_spawn(&m->loop, &r->proc, &po);
  close(fd);
  assert_int_equal(rc, 0);
  r->started = 1;
}

int mq_run_wait(struct mq_run *r, struct mq_loop *m, unsigned ms) {
  if (!mq_wait(m, &r->exited, 1, ms)) {
    uv_process_kill(&r->proc, SIGKILL);
    mq_wait(m, &r->exited, 1, 5000);
    MQ_RUN_FAIL(r, "the run did not end within %u ms", ms);
  }
  return r->status;
}

const char *mq_run_output(const struct mq_run *r) {
  static char buf[16384];
  buf[0] = '\0';
  FILE *f = fopen(r->log, "r");
  if (!f)
    return "(no output)";
  if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof buf - 1)
    fseek(f, -(long)(sizeof buf - 1), SEEK_END);
  else
    fseek(f, 0, SEEK_SET);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

json_t *mq_run_summary(const struct mq_run *r) {
  json_error_t err;
  json_t *j = json_load_file(r->summary, 0, &err);
  if (!j)
    MQ_RUN_FAIL(r, "no summary at %s: %s", r->summary, err.text);
  return j;
}

json_int_t mq_jint(json_t *root, const char *path) {
  char key[64];
  json_t *o = root;
  for (const char *p = path; o && *p;) {
    size_t n = strcspn(p, ".");
    assert_true(n < sizeof key);
    memcpy(key, p, n);
    key[n] = '\0';
    o = json_object_get(o, key);
    p += n + (p[n] == '.');
  }
  if (!json_is_integer(o))
    fail_msg("summary: %s is not an integer", path);
  return json_integer_value(o);
}
