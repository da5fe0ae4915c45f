/* The catalogue loader (devices/cat_load.c) on files and directories (kinds of file, counts,
 * order), the built-in catalogue, its default hub, and the process-wide catalogue. */
#include "cat_test.h"

/* ---- directories -------------------------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void rm_dir(const char *dir, const char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}

static void test_add_dir(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-cat-XXXXXX";
  assert_non_null(mkdtemp(dir));
  /* b.yaml refers to nothing in a.yaml, but a.yaml must come first: it defines t.min, which
   * b.yaml's hub does not clash with; the order shows in c->models. */
  write_file(dir, "b.yaml", MIN_HEAD);
  write_file(dir, "a.yaml",
             "models:\n"
             "  - id: t.a\n"
             "    vendor: V\n"
             "    vendor_model: VM\n"
             "    description: D\n"
             "    category: c\n"
             "    manufacturer: LUMI\n"
             "    manufacturer_code: 0x115F\n"
             "    ieee_oui: 0x54EF44\n"
             "    power: mains\n"
             "    logical_type: router\n"
             "    sleepy: false\n"
             "    join: announce\n"
             "    endpoints: [{id: 1, profile: 0x0104, device_id: 0x0100}]\n");
  write_file(dir, "notes.txt", "not a catalogue file: ignored\n");
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = dev_cat_add_dir(c, dir, &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  assert_int_equal(c->n_models, 2);
  assert_string_equal(c->models[0]->m.model_id, "t.a");
  assert_string_equal(c->models[1]->m.model_id, "t.min");
  char want[600];
  snprintf(want, sizeof(want), "%s/b.yaml", dir);
  assert_string_equal(c->models[1]->source_file, want);

  /* the same directory again: every id is a duplicate, named with its path and line */
  r = dev_cat_add_dir(c, dir, &e);
  assert_int_equal(r, SIM_EINVAL);
  snprintf(want, sizeof(want), "%s/a.yaml", dir);
  assert_string_equal(e.file, want);
  assert_int_equal(e.line, 2);
  assert_int_equal(c->n_models, 2);
  dev_cat_free(c);

  /* a broken file stops the directory with its name */
  write_file(dir, "c.yaml", "models: [\n");
  c = dev_cat_new();
  r = dev_cat_add_dir(c, dir, &e);
  assert_int_equal(r, SIM_EINVAL);
  snprintf(want, sizeof(want), "%s/c.yaml", dir);
  assert_string_equal(e.file, want);
  assert_int_equal(c->n_models, 2); /* a.yaml and b.yaml were added before */
  dev_cat_free(c);

  static const char *const names[] = {"a.yaml", "b.yaml", "c.yaml", "notes.txt"};
  rm_dir(dir, names, 4);

  /* a missing directory */
  c = dev_cat_new();
  r = dev_cat_add_dir(c, dir, &e);
  assert_int_equal(r, SIM_ENOTFOUND);
  assert_string_equal(e.file, dir);
  assert_int_equal(e.line, 0);
  assert_string_equal(e.reason, "cannot read the catalogue directory: No such file or directory");
  assert_int_equal(c->n_models, 0);
  dev_cat_free(c);
}

static void test_file_kinds(void **state) {
  (void)state;
  alarm(60); /* a FIFO opened for reading blocks until a writer comes: fail, never hang */
  char dir[] = "/tmp/hubsim-cat-kinds-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[600], q[600], want[700];
  struct dev_cat_error e;
  struct dev_cat *c = dev_cat_new();

  snprintf(p, sizeof p, "%s/fifo.yaml", dir);
  assert_int_equal(mkfifo(p, 0600), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.file, p);
  assert_int_equal(e.line, 0);
  assert_string_equal(e.reason, "is a FIFO, not a regular file");
  unlink(p);

  snprintf(p, sizeof p, "%s/zero.yaml", dir);
  assert_int_equal(symlink("/dev/zero", p), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "is a character device, not a regular file");
  unlink(p);

  snprintf(p, sizeof p, "%s/sub.yaml", dir);
  assert_int_equal(mkdir(p, 0700), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "is a directory, not a regular file");
  /* the same through a directory listing */
  assert_int_equal(dev_cat_add_dir(c, dir, &e), SIM_EINVAL);
  assert_string_equal(e.file, p);
  assert_string_equal(e.reason, "is a directory, not a regular file");
  rmdir(p);

  snprintf(p, sizeof p, "%s/big.yaml", dir);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  assert_int_equal(ftruncate(fileno(f), 2 * DEV_CAT_FILE_MAX), 0);
  fclose(f);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "is 2097152 bytes, more than the 1048576 a catalogue file may "
                                "have");
  unlink(p);

  snprintf(p, sizeof p, "%s/gone.yaml", dir);
  assert_int_equal(symlink("/nonexistent/hubsim", p), 0);
  assert_int_equal(dev_cat_add_file(c, p, &e), SIM_EINVAL);
  assert_string_equal(e.reason, "cannot read the catalogue file: No such file or directory");
  unlink(p);

  /* a link to a regular file is a file */
  snprintf(q, sizeof q, "%s/real.txt", dir);
  write_file(dir, "real.txt", MIN_HEAD);
  snprintf(p, sizeof p, "%s/link.yaml", dir);
  assert_int_equal(symlink(q, p), 0);
  assert_int_equal(dev_cat_add_dir(c, dir, &e), 0);
  assert_int_equal(c->n_models, 1);
  snprintf(want, sizeof want, "%s", p);
  assert_string_equal(c->models[0]->source_file, want);
  unlink(p);
  unlink(q);
  dev_cat_free(c);
  rmdir(dir);
  alarm(0);
}

/* A directory holds at most 512 catalogue files. */
static void test_dir_file_count(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-cat-many-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char name[64];
  for (int i = 0; i <= DEV_CAT_DIR_FILES_MAX; i++) {
    snprintf(name, sizeof name, "f%04d.yaml", i);
    write_file(dir, name, "hubs: []\n");
  }
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_int_equal(dev_cat_add_dir(c, dir, &e), SIM_EINVAL);
  assert_string_equal(e.file, dir);
  assert_string_equal(e.reason, "more than 512 *.yaml files in one catalogue directory");
  dev_cat_free(c);
  for (int i = 0; i <= DEV_CAT_DIR_FILES_MAX; i++) {
    char p[600];
    snprintf(p, sizeof p, "%s/f%04d.yaml", dir, i);
    unlink(p);
  }
  rmdir(dir);
}

/* The built-in catalogue (devices/catalog/ at build time) loads without error, and every model
 * fits its state budget. */
static void test_builtin(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  int r = dev_cat_add_builtin(c, &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  for (size_t i = 0; i < c->n_models; i++) {
    const struct dev_cat_model *cm = c->models[i];
    assert_true(cm->state_bytes <= SIM_DEV_STATE_BYTES);
    assert_ptr_equal(cm->m.ops, &dev_generic_ops);
    assert_ptr_equal(dev_cat_find(c, cm->m.model_id), cm);
    print_message("  %-28s %-16s %3u B of state  %s:%d\n", cm->m.model_id, cm->m.vendor_model,
                  cm->state_bytes, cm->source_file, cm->source_line);
  }
  dev_cat_free(c);
}

/* One hub is the default (`default: true`): the built-in catalogue has one, an alias never is,
 * and a second default in the same catalogue is refused with where the first one is. */
static void test_default_hub(void **state) {
  (void)state;
  struct dev_cat *c = dev_cat_new();
  struct dev_cat_error e;
  assert_null(dev_cat_default_hub(c));
  assert_null(dev_cat_default_hub(NULL));
  assert_int_equal(dev_cat_add_builtin(c, &e), 0);
  const struct dev_cat_hub *d = dev_cat_default_hub(c);
  assert_non_null(d);
  assert_ptr_equal(dev_cat_find_hub(c, d->model_id), d);
  size_t n = 0;
  for (size_t i = 0; i < c->n_hubs; i++)
    n += c->hubs[i].is_default;
  assert_int_equal(n, 1);
  /* a second default, in another file */
  assert_int_equal(add(c, "d.yaml",
                       "hubs:\n"
                       "  - {id: h.d, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
                       "     default: true}\n",
                       &e),
                   SIM_EINVAL);
  char want[400], got[600];
  snprintf(want, sizeof want,
           "d.yaml:3: hubs[0].default: the default hub is already \"%s\" (defined at %s:%d)",
           d->model_id, d->source_file, d->source_line);
  snprintf(got, sizeof got, "%s:%d: %s", e.file, e.line, e.reason);
  assert_string_equal(got, want);
  assert_ptr_equal(dev_cat_default_hub(c), d);
  dev_cat_free(c);

  c = dev_cat_new();
  assert_int_equal(add(c, "a.yaml",
                       "hubs:\n"
                       "  - {id: h.1, aliases: [h.2], name: N, vendor_model: V, firmware: \"1\",\n"
                       "     max_devices: 1, default: true}\n"
                       "  - {id: h.3, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
                       "     default: false}\n",
                       &e),
                   0);
  assert_string_equal(dev_cat_default_hub(c)->model_id, "h.1");
  assert_false(dev_cat_find_hub(c, "h.2")->is_default);
  assert_false(dev_cat_find_hub(c, "h.3")->is_default);
  dev_cat_free(c);
  expect_error("t.yaml",
               "hubs:\n"
               "  - {id: h.1, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
               "     default: true}\n"
               "  - {id: h.2, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
               "     default: true}\n",
               "t.yaml:5: hubs[1].default: the default hub is already \"h.1\" (defined at "
               "t.yaml:2)");
  expect_error("t.yaml",
               "hubs:\n"
               "  - {id: h.1, name: N, vendor_model: V, firmware: \"1\", max_devices: 1,\n"
               "     default: yes}\n",
               "t.yaml:3: hubs[0].default: expected true or false, got \"yes\"");
}

/* The process-wide catalogue registers its models once. */
static void test_global(void **state) {
  (void)state;
  sim_model_reset();
  struct dev_cat_error e;
  int r = dev_cat_global_init(NULL, 0, &e);
  if (r)
    print_error("%s:%d: %s\n", e.file, e.line, e.reason);
  assert_int_equal(r, 0);
  const struct dev_cat *g = dev_cat_global();
  assert_non_null(g);
  assert_int_equal(sim_model_count(), g->n_models);
  for (size_t i = 0; i < g->n_models; i++)
    assert_ptr_equal(sim_model_get((uint16_t)sim_model_find(g->models[i]->m.model_id)),
                     &g->models[i]->m);
  assert_int_equal(dev_cat_global_init(NULL, 0, &e), 0); /* idempotent */
  assert_ptr_equal(dev_cat_global(), g);
  assert_int_equal(sim_model_count(), g->n_models);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_dir),        cmocka_unit_test(test_file_kinds),
      cmocka_unit_test(test_dir_file_count), cmocka_unit_test(test_builtin),
      cmocka_unit_test(test_default_hub),    cmocka_unit_test(test_global),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
