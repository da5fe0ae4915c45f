/* `hubsim devices` from the command line: list, show and sample in text and JSON, help texts,
 * an unknown model, bad flags, a user catalogue directory that adds a model, and a malformed
 * catalogue file that stops the command with FILE:LINE: and exit 2. Spawns the real binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

#include "devspawn.h"

#define TIMEOUT_S 60

static int run(struct devspawn_out *r, const char *const *args) {
  int rc = devspawn_run(args, TIMEOUT_S, r);
  return rc;
}

static json_t *parse_json(const struct devspawn_out *r) {
  json_error_t e;
  json_t *j = json_loads(r->out, 0, &e);
  if (!j)
    fail_msg("not JSON (%s at line %d): %.400s", e.text, e.line, r->out);
  return j;
}

static void expect_ok(struct devspawn_out *r, const char *const *args) {
  int rc = run(r, args);
  if (rc != 0)
    fail_msg("%s %s: exit %d, stderr: %s", args[0], args[1] ? args[1] : "", rc, r->err);
}

static void test_help(void **state) {
  (void)state;
  struct devspawn_out r;
  const char *top[] = {"--help", NULL};
  expect_ok(&r, top);
  assert_non_null(strstr(r.out, "devices"));
  devspawn_free(&r);
  const char *a[] = {"devices", "--help", NULL};
  expect_ok(&r, a);
  assert_non_null(strstr(r.out, "list"));
  assert_non_null(strstr(r.out, "show"));
  assert_non_null(strstr(r.out, "sample"));
  devspawn_free(&r);
  const char *subs[] = {"list", "show", "sample"};
  const char *flags[][6] = {{"--json", "--catalog", NULL},
                            {"--json", "--catalog", NULL},
                            {"--seed", "--count", "--duration", "--json", "--catalog", NULL}};
  for (int i = 0; i < 3; i++) {
    const char *h[] = {"devices", subs[i], "--help", NULL};
    expect_ok(&r, h);
    for (int k = 0; flags[i][k]; k++)
      if (!strstr(r.out, flags[i][k]))
        fail_msg("devices %s --help does not mention %s", subs[i], flags[i][k]);
    devspawn_free(&r);
  }
}

static void test_list(void **state) {
  (void)state;
  struct devspawn_out r;
  const char *a[] = {"devices", "list", NULL};
  expect_ok(&r, a);
  assert_non_null(strstr(r.out, "lumi.weather"));
  assert_non_null(strstr(r.out, "WSDCGQ11LM"));
  assert_non_null(strstr(r.out, "lumi.plug.maeu01"));
  devspawn_free(&r);

  const char *j[] = {"devices", "list", "--json", NULL};
  expect_ok(&r, j);
  json_t *doc = parse_json(&r);
  json_t *models = json_object_get(doc, "models");
  assert_true(json_is_array(models));
  assert_true(json_array_size(models) >= 20);
  int weather = 0;
  size_t i;
  json_t *m;
  json_array_foreach(models, i, m) {
    const char *id = json_string_value(json_object_get(m, "id"));
    assert_non_null(id);
    const char *power = json_string_value(json_object_get(m, "power"));
    const char *lt = json_string_value(json_object_get(m, "logical_type"));
    assert_non_null(power);
    assert_non_null(lt);
    assert_true(strcmp(power, "battery") == 0 || strcmp(power, "mains") == 0);
    assert_true(strcmp(lt, "router") == 0 || strcmp(lt, "end_device") == 0);
    assert_true(json_is_boolean(json_object_get(m, "sleepy")));
    if (strcmp(id, "lumi.weather") == 0) {
      weather = 1;
      assert_string_equal(json_string_value(json_object_get(m, "vendor_model")), "WSDCGQ11LM");
      assert_string_equal(power, "battery");
    }
  }
  assert_true(weather);
  json_t *hubs = json_object_get(doc, "hubs");
  assert_true(json_is_array(hubs));
  assert_true(json_array_size(hubs) >= 1);
  assert_non_null(json_string_value(json_object_get(json_array_get(hubs, 0), "id")));
  json_decref(doc);
  devspawn_free(&r);
}

static void test_show(void **state) {
  (void)state;
  struct devspawn_out r;
  const char *a[] = {"devices", "show", "lumi.weather", NULL};
  expect_ok(&r, a);
  assert_non_null(strstr(r.out, "0x0402"));
  assert_non_null(strstr(r.out, "heartbeat"));
  assert_non_null(strstr(r.out, "0xFF01"));
  assert_non_null(strstr(r.out, "0x1037"));
  devspawn_free(&r);

  const char *j[] = {"devices", "show", "lumi.weather", "--json", NULL};
  expect_ok(&r, j);
  json_t *doc = parse_json(&r);
  assert_string_equal(json_string_value(json_object_get(doc, "id")), "lumi.weather");
  assert_int_equal(json_integer_value(json_object_get(doc, "manufacturer_code")), 0x1037);
  assert_true(json_array_size(json_object_get(doc, "endpoints")) >= 1);
  assert_true(json_array_size(json_object_get(doc, "attributes")) >= 3);
  json_t *hb = json_object_get(doc, "heartbeat");
  assert_int_equal(json_integer_value(json_object_get(hb, "attr")), 0xFF01);
  assert_int_equal(json_integer_value(json_object_get(hb, "type")), 0x42);
  assert_true(json_array_size(json_object_get(hb, "tags")) >= 4);
  json_decref(doc);
  devspawn_free(&r);
}

/* The links between a model's parts: what a report frame carries besides its own attribute, the
 * steps a command takes besides its own, a chain between channels, a report sent at once. */
static json_t *find_named(json_t *arr, const char *key, const char *want) {
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) {
    const char *v = json_string_value(json_object_get(x, key));
    if (v && strcmp(v, want) == 0)
      return x;
  }
  return NULL;
}

static void test_show_links(void **state) {
  (void)state;
  struct devspawn_out r;
  const char *t1[] = {"devices", "show", "lumi.sensor_ht.agl02", "--json", NULL};
  expect_ok(&r, t1);
  json_t *doc = parse_json(&r);
  json_t *same = NULL;
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(doc, "attributes"), i, a) {
    if (json_integer_value(json_object_get(a, "cluster")) == 0x0403 &&
        json_integer_value(json_object_get(a, "attr")) == 0x0000)
      same = json_object_get(a, "same_frame");
  }
  assert_int_equal(json_array_size(same), 2);
  json_decref(doc);
  devspawn_free(&r);

  const char *light[] = {"devices", "show", "lumi.light.aqcn02", NULL};
  expect_ok(&r, light);
  assert_non_null(strstr(r.out, "cmd 0x04  arg level = payload[0] uint8 / 1; then follow state"));
  devspawn_free(&r);

  const char *sw[] = {"devices", "show", "lumi.switch.l1aeu1", "--json", NULL};
  expect_ok(&r, sw);
  doc = parse_json(&r);
  json_t *chain = find_named(json_object_get(doc, "chains"), "when", "button");
  assert_non_null(chain);
  assert_string_equal(json_string_value(json_object_get(chain, "do")), "toggle");
  assert_string_equal(json_string_value(json_object_get(chain, "channel")), "state");
  assert_int_equal(json_object_size(json_object_get(chain, "if")), 2);
  json_decref(doc);
  devspawn_free(&r);

  const char *plug[] = {"devices", "show", "lumi.plug", "--json", NULL};
  expect_ok(&r, plug);
  doc = parse_json(&r);
  json_t *power = find_named(json_object_get(doc, "attributes"), "name", "presentValue");
  assert_non_null(power);
  assert_string_equal(json_string_value(json_object_get(power, "at_once_with")), "state");
  assert_int_equal(json_array_size(json_object_get(doc, "chains")), 0);
  json_decref(doc);
  devspawn_free(&r);
}

static void test_sample(void **state) {
  (void)state;
  struct devspawn_out r, r2;
  const char *a[] = {"devices", "sample", "lumi.weather", "--count", "4", NULL};
  expect_ok(&r, a);
  assert_non_null(strstr(r.out, "zcl "));
  assert_non_null(strstr(r.out, "#3"));
  assert_null(strstr(r.out, "#4 "));
  devspawn_free(&r);

  const char *j[] = {"devices", "sample", "lumi.weather", "--seed", "7",
                     "--count", "6",      "--json",       NULL};
  expect_ok(&r, j);
  expect_ok(&r2, j);
  /* same seed, same frames, byte for byte */
  assert_string_equal(r.out, r2.out);
  devspawn_free(&r2);
  json_t *doc = parse_json(&r);
  assert_string_equal(json_string_value(json_object_get(doc, "model")), "lumi.weather");
  assert_int_equal(json_integer_value(json_object_get(doc, "seed")), 7);
  json_t *frames = json_object_get(doc, "frames");
  assert_int_equal(json_array_size(frames), 6);
  size_t i;
  json_t *f;
  long long last_t = -1;
  int heartbeat = 0;
  json_array_foreach(frames, i, f) {
    assert_int_equal(json_integer_value(json_object_get(f, "index")), (long long)i);
    long long t = json_integer_value(json_object_get(f, "t_us"));
    assert_true(t >= last_t);
    last_t = t;
    const char *hex = json_string_value(json_object_get(f, "frame_hex"));
    assert_non_null(hex);
    assert_true(strlen(hex) >= 6 && strlen(hex) % 2 == 0);
    assert_true(json_is_integer(json_object_get(f, "endpoint")));
    assert_true(json_is_integer(json_object_get(f, "cluster")));
    assert_true(json_is_integer(json_object_get(f, "command")));
    size_t k;
    json_t *at;
    json_array_foreach(json_object_get(f, "attributes"), k, at) {
      assert_true(json_is_integer(json_object_get(at, "id")));
      assert_non_null(json_string_value(json_object_get(at, "type_name")));
      if (json_integer_value(json_object_get(at, "id")) == 0xFF01) {
        heartbeat = 1;
        assert_int_equal(json_integer_value(json_object_get(f, "manufacturer_code")), 0x115F);
        assert_true(json_array_size(json_object_get(at, "tlv")) >= 4);
      }
    }
  }
  /* the legacy join frame carries the heartbeat record */
  assert_true(heartbeat);
  json_decref(doc);
  devspawn_free(&r);

  /* --duration alone: everything within 2 simulated hours, so at least one heartbeat */
  const char *d[] = {"devices", "sample", "lumi.sensor_ht.agl02", "--duration", "2h",
                     "--json",  NULL};
  expect_ok(&r, d);
  doc = parse_json(&r);
  frames = json_object_get(doc, "frames");
  assert_true(json_array_size(frames) >= 2);
  json_array_foreach(frames, i, f) {
    assert_true(json_integer_value(json_object_get(f, "t_us")) < 2LL * 3600 * 1000000);
  }
  json_decref(doc);
  devspawn_free(&r);
}

static void expect_usage_error(const char *const *args, const char *named) {
  struct devspawn_out r;
  int rc = run(&r, args);
  if (rc != 2 || !strstr(r.err, named))
    fail_msg("exit %d for '%s', stderr: %s", rc, named, r.err);
  devspawn_free(&r);
}

static void test_unknown_model_and_bad_flags(void **state) {
  (void)state;
  const char *u1[] = {"devices", "show", "lumi.no_such", NULL};
  expect_usage_error(u1, "hubsim devices show: unknown model \"lumi.no_such\" (see hubsim "
                         "devices list)");
  const char *u2[] = {"devices", "sample", "lumi.no_such", "--count", "1", NULL};
  expect_usage_error(u2, "unknown model \"lumi.no_such\"");
  const char *a[][8] = {
      {"devices", NULL},
      {"devices", "frobnicate", NULL},
      {"devices", "list", "--frob", NULL},
      {"devices", "list", "extra", NULL},
      {"devices", "show", NULL},
      {"devices", "show", "lumi.weather", "--seed", "1", NULL},
      {"devices", "sample", "lumi.weather", "--count", "0", NULL},
      {"devices", "sample", "lumi.weather", "--count", "many", NULL},
      {"devices", "sample", "lumi.weather", "--seed", "x", NULL},
      {"devices", "sample", "lumi.weather", "--duration", "5 minutes", NULL},
      {"devices", "sample", "lumi.weather", "--duration", NULL},
      {"devices", "sample", "lumi.weather", "--catalog", NULL},
      {"devices", "list", "--catalog", "/nonexistent/hubsim-catalog-dir", NULL},
  };
  const char *named[] = {"usage",
                         "frobnicate",
                         "--frob",
                         "extra",
                         "MODEL",
                         "--seed",
                         "--count",
                         "--count",
                         "--seed",
                         "--duration",
                         "--duration",
                         "--catalog",
                         "/nonexistent/hubsim-catalog-dir"};
  for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
    expect_usage_error(a[i], named[i]);
}

/* ---- user catalogue directories ---------------------------------------------------------- */

static const char user_yaml[] =
    "# a user's own model, added with --catalog\n"
    "models:\n"
    "  - id: hubsim.test.thermo\n"
    "    vendor: Test\n"
    "    vendor_model: TT01\n"
    "    description: A test thermometer\n"
    "    category: temperature_sensor\n"
    "    manufacturer: TEST\n"
    "    manufacturer_code: 0x1234\n"
    "    ieee_oui: 0x00124B\n"
    "    power: mains\n"
    "    logical_type: router\n"
    "    sleepy: false\n"
    "    join: announce\n"
    "    endpoints:\n"
    "      - {id: 1, profile: 0x0104, device_id: 0x0302, in: [0x0000, 0x0402], out: []}\n"
    "    channels:\n"
    "      temperature: {walk: {base: 21.5, daily_amp: 1.5, peak_hour: 16, sigma: 0.3,\n"
    "                           revert: 0.5, min: -20, max: 60, spread: 1.5, sample_s: 60}}\n"
    "    attributes:\n"
    "      - {name: measuredValue, ep: 1, cluster: 0x0402, attr: 0x0000, type: int16,\n"
    "         value: temperature, scale: 100, unit: degC, on_join: true,\n"
    "         report: {change: 0.1, min_s: 10, max_s: 600}}\n";

/* The same model with an unknown key on line 9. */
static const char bad_yaml[] = "models:\n"
                               "  - id: hubsim.test.broken\n"
                               "    vendor: Test\n"
                               "    vendor_model: TT02\n"
                               "    description: A broken file\n"
                               "    category: temperature_sensor\n"
                               "    manufacturer: TEST\n"
                               "    manufacturer_code: 0x1234\n"
                               "    colour_of_the_box: blue\n"
                               "    ieee_oui: 0x00124B\n";
#define BAD_LINE 9

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static void remove_dir(const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
  rmdir(dir);
}

static void test_user_catalogue(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-devices-cat-XXXXXX";
  assert_non_null(mkdtemp(dir));
  write_file(dir, "mine.yaml", user_yaml);
  struct devspawn_out r;

  const char *l[] = {"devices", "list", "--catalog", dir, NULL};
  int rc = run(&r, l);
  if (rc != 0)
    fail_msg("list --catalog: exit %d: %s", rc, r.err);
  assert_non_null(strstr(r.out, "hubsim.test.thermo"));
  assert_non_null(strstr(r.out, "lumi.weather")); /* the built-in models are still there */
  devspawn_free(&r);

  char flag[600];
  snprintf(flag, sizeof flag, "--catalog=%s", dir);
  const char *s[] = {"devices", "sample", "hubsim.test.thermo", flag, "--count", "3",
                     "--json",  NULL};
  rc = run(&r, s);
  if (rc != 0)
    fail_msg("sample --catalog: exit %d: %s", rc, r.err);
  json_t *doc = parse_json(&r);
  json_t *frames = json_object_get(doc, "frames");
  assert_int_equal(json_array_size(frames), 3);
  int temp = 0;
  size_t i;
  json_t *f;
  json_array_foreach(frames, i, f) {
    if (json_integer_value(json_object_get(f, "cluster")) != 0x0402)
      continue;
    json_t *at = json_array_get(json_object_get(f, "attributes"), 0);
    assert_int_equal(json_integer_value(json_object_get(at, "type")), 0x29);
    double c = json_number_value(json_object_get(at, "value")) / 100.0;
    assert_true(c > -20 && c < 60);
    temp++;
  }
  assert_true(temp >= 1);
  json_decref(doc);
  devspawn_free(&r);

  const char *sh[] = {"devices", "show", "hubsim.test.thermo", "--catalog", dir, "--json", NULL};
  rc = run(&r, sh);
  if (rc != 0)
    fail_msg("show --catalog: exit %d: %s", rc, r.err);
  doc = parse_json(&r);
  assert_int_equal(json_integer_value(json_object_get(doc, "manufacturer_code")), 0x1234);
  assert_non_null(strstr(json_string_value(json_object_get(json_object_get(doc, "source"), "file")),
                         "mine.yaml"));
  json_decref(doc);
  devspawn_free(&r);
  remove_dir(dir, "mine.yaml");

  /* without --catalog the model is unknown */
  const char *u[] = {"devices", "show", "hubsim.test.thermo", NULL};
  expect_usage_error(u, "unknown model");
}

static void test_malformed_catalogue(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-devices-bad-XXXXXX";
  assert_non_null(mkdtemp(dir));
  write_file(dir, "bad.yaml", bad_yaml);
  char expect[600];
  snprintf(expect, sizeof expect, "%s/bad.yaml:%d:", dir, BAD_LINE);
  const char *cmds[][6] = {{"devices", "list", "--catalog", dir, NULL},
                           {"devices", "show", "lumi.weather", "--catalog", dir, NULL},
                           {"devices", "sample", "lumi.weather", "--catalog", dir, NULL}};
  for (size_t i = 0; i < 3; i++) {
    struct devspawn_out r;
    int rc = run(&r, cmds[i]);
    if (rc != 2 || !strstr(r.err, expect))
      fail_msg("devices %s with a malformed file: exit %d, stderr: %s (expected %s)", cmds[i][1],
               rc, r.err, expect);
    /* the reason names the key */
    assert_non_null(strstr(r.err, "colour_of_the_box"));
    devspawn_free(&r);
  }
  remove_dir(dir, "bad.yaml");
}

/* Catalogue paths that are not catalogue files, through both commands that take --catalog:
 * each stops the start at once with exit 2 and a sentence naming the path and what it is. The
 * FIFO blocked the start for ever (the timeout here fails the test instead), /dev/zero filled
 * the memory, a directory said "Input/output error", and a 300-byte model id loaded and then
 * could not be sent (the ZCL modelIdentifier holds 32 bytes). */
static void test_hostile_catalogue_files(void **state) {
  (void)state;
  char dir[] = "/tmp/hubsim-devices-hostile-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[600], want[1024];
  struct {
    const char *name, *want;
  } cases[] = {
      {"fifo.yaml", "is a FIFO, not a regular file"},
      {"zero.yaml", "is a character device, not a regular file"},
      {"sub.yaml", "is a directory, not a regular file"},
      {"long.yaml", ":3: id: \"hubsim.test.aaaaaaaaaaaaaaaaaaaa...\" is 300 bytes long, more than "
                    "the 32 allowed (a ZCL modelIdentifier)"},
  };
  char long_yaml[sizeof user_yaml + 400];
  char id[301];
  memset(id, 'a', 300);
  memcpy(id, "hubsim.test.", 12);
  id[300] = '\0';
  const char *at = strstr(user_yaml, "hubsim.test.thermo");
  assert_non_null(at);
  snprintf(long_yaml, sizeof long_yaml, "%.*s%s%s", (int)(at - user_yaml), user_yaml, id,
           at + strlen("hubsim.test.thermo"));
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
    if (i == 0)
      assert_int_equal(mkfifo(path, 0600), 0);
    else if (i == 1)
      assert_int_equal(symlink("/dev/zero", path), 0);
    else if (i == 2)
      assert_int_equal(mkdir(path, 0700), 0);
    else
      write_file(dir, cases[i].name, long_yaml);
    snprintf(want, sizeof want, "%s%s%s", path, i < 3 ? ": " : "", cases[i].want);
    const char *cmds[][14] = {
        {"devices", "list", "--catalog", dir, NULL},
        {"run", "--catalog", dir, "--clock", "virtual", "--hubs", "1", "--devices-per-hub", "1",
         "--duration", "1s", NULL},
    };
    for (size_t k = 0; k < 2; k++) {
      struct devspawn_out r;
      int rc = devspawn_run(cmds[k], 20, &r);
      if (rc != 2 || !strstr(r.err, want))
        fail_msg("%s --catalog with %s: exit %d (-1: killed after 20 s), stderr: %.600s "
                 "(expected exit 2 and %s)",
                 cmds[k][0], cases[i].name, rc, r.err, want);
      devspawn_free(&r);
    }
    if (i == 2)
      rmdir(path);
    else
      unlink(path);
  }
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help),
      cmocka_unit_test(test_list),
      cmocka_unit_test(test_show),
      cmocka_unit_test(test_show_links),
      cmocka_unit_test(test_sample),
      cmocka_unit_test(test_unknown_model_and_bad_flags),
      cmocka_unit_test(test_user_catalogue),
      cmocka_unit_test(test_malformed_catalogue),
      cmocka_unit_test(test_hostile_catalogue_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
