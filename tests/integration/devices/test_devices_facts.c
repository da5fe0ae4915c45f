/* THE FACTS WALK: the acceptance test of the device catalogue.
 *
 * Reads the facts file (tests/data/aqara-zigbee.json; HUBSIM_FACTS overrides) and, for
 * every device entry and every model id in it, runs `hubsim devices show ID --json` and
 * `hubsim devices sample ID --seed 1 --duration 26h --json`, then checks each fact the file
 * states against what the binary says and sends: endpoints and clusters, reported attributes
 * (cluster, id, ZCL type, scaling), the heartbeat (cluster, attribute, type, TLV tags and their
 * types, manufacturer code 0x115F in the frame header), node descriptor facts, power source,
 * device type, sleepiness, IAS zone events. A summary line per model gives facts checked and
 * passed.
 *
 * Facts the file marks as inferred ("[inf]") are checked too, but a mismatch is a warning: the
 * issue lets the catalogue choose where the facts are unverified (docs/devices.md says what).
 *
 * Then the byte-level examples: every xiaomi_struct.example_hex / example_zcl_frame_hex is
 * rebuilt with the encoder (devices/xiaomi.h) from the model's catalogue tag layout with the
 * example's decoded values substituted, and compared byte for byte. An example whose tag list
 * differs from the model's is reported (a failure unless the facts attribute the example to the
 * model by inference). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <jansson.h>

#include "devices/cat_global.h"
#include "devices/cat_load.h"
#include "devices/cat_types.h"
#include "devices/xiaomi.h"
#include "devices/zcl_enc.h"
#include "devspawn.h"
#include "sim/core/hex.h"

#ifndef HUBSIM_FACTS_DEFAULT
#define HUBSIM_FACTS_DEFAULT ""
#endif

#define SPAWN_TIMEOUT_S 240

static int g_fail;  /* hard failures over the whole walk */
static int g_warn;  /* mismatches of inferred facts */
static int g_check; /* facts checked */

struct tally {
  const char *model;
  int checked, passed, warned, failed;
};

/* Records one fact. soft: a mismatch is a warning (the fact is inferred). */
static void chk(struct tally *t, int ok, int soft, const char *fmt, ...) {
  t->checked++;
  g_check++;
  if (ok) {
    t->passed++;
    return;
  }
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (soft) {
    t->warned++;
    g_warn++;
    printf("  WARN %s: %s [facts: inferred]\n", t->model, msg);
  } else {
    t->failed++;
    g_fail++;
    printf("  FAIL %s: %s\n", t->model, msg);
  }
}

/* ---- small JSON helpers ------------------------------------------------------------------ */

/* "0x1037" -> 0x1037; -1 when s is not a hex number. */
static long hexnum(const char *s) {
  if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return -1;
  char *end;
  long v = strtol(s + 2, &end, 16);
  return end == s + 2 ? -1 : v;
}

static long jhex(json_t *o, const char *key) {
  return hexnum(json_string_value(json_object_get(o, key)));
}

/* A ZCL type given as "0xNN name..." -> NN, else -1. *inf: the string marks it inferred. */
static int parse_type(const char *s, int *inf) {
  *inf = s && strstr(s, "[inf]") != NULL;
  if (!s || s[0] != '0' || s[1] != 'x')
    return -1;
  char *end;
  long v = strtol(s + 2, &end, 16);
  if (end != s + 4 || (*end != 0 && *end != ' '))
    return -1;
  return (int)v;
}

static int is_inferred(json_t *o) {
  const char *c = json_string_value(json_object_get(o, "confidence"));
  return c && (strcmp(c, "inf") == 0 || strcmp(c, "unknown") == 0);
}

/* Does the facts text say word, possibly followed by a remark ("LUMI (ZHA also accepts...)")? */
static int starts_word(const char *facts, const char *word) {
  size_t n = word ? strlen(word) : 0;
  return word && strncmp(facts, word, n) == 0 && (facts[n] == 0 || facts[n] == ' ');
}

static long long jint(json_t *o, const char *key) {
  return json_integer_value(json_object_get(o, key));
}

/* Hex text -> bytes; the count, or -1. */
static int unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n;
  return sim_hex_decode(s, strlen(s), 0, out, cap, &n) ? -1 : (int)n;
}

static void hexs(char *out, const uint8_t *p, size_t n) {
  sim_hex_encode(out, p, n, SIM_HEX_UPPER);
}

/* ---- running the binary ------------------------------------------------------------------ */

static json_t *run_json(const char *const *args, struct tally *t, const char *what) {
  struct devspawn_out r;
  int rc = devspawn_run(args, SPAWN_TIMEOUT_S, &r);
  json_t *doc = NULL;
  if (rc == 0) {
    json_error_t e;
    doc = json_loads(r.out, 0, &e);
    chk(t, doc != NULL, 0, "%s: output is not JSON (%s)", what, e.text);
  } else {
    chk(t, 0, 0, "%s: exit %d: %.300s", what, rc, r.err);
  }
  devspawn_free(&r);
  return doc;
}

/* ---- the show document ------------------------------------------------------------------- */

static json_t *show_attr(json_t *show, long cluster, long attr) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(show, "attributes"), i, a) {
    if (jint(a, "cluster") == cluster && jint(a, "attr") == attr)
      return a;
  }
  return NULL;
}

static json_t *show_tag(json_t *show, long tag) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(json_object_get(show, "heartbeat"), "tags"), i, a) {
    if (jint(a, "tag") == tag)
      return a;
  }
  return NULL;
}

static json_t *show_endpoint(json_t *show, long id) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(show, "endpoints"), i, e) {
    if (jint(e, "id") == id)
      return e;
  }
  return NULL;
}

/* Do the facts' cluster list (hex strings) and the show's (integers) hold the same set? */
static int same_clusters(json_t *facts, json_t *shown, char *diff, size_t cap) {
  int ok = 1;
  size_t used = 0, i, k;
  json_t *f, *s;
  diff[0] = 0;
  json_array_foreach(facts, i, f) {
    long c = hexnum(json_string_value(f));
    int found = 0;
    json_array_foreach(shown, k, s) {
      if (json_integer_value(s) == c)
        found = 1;
    }
    if (!found) {
      ok = 0;
      int n = snprintf(diff + used, cap - used, " missing 0x%04lX", c);
      if (n > 0 && (size_t)n < cap - used)
        used += (size_t)n;
    }
  }
  json_array_foreach(shown, k, s) {
    int found = 0;
    json_array_foreach(facts, i, f) {
      if (hexnum(json_string_value(f)) == json_integer_value(s))
        found = 1;
    }
    if (!found) {
      ok = 0;
      int n = snprintf(diff + used, cap - used, " extra 0x%04llX", json_integer_value(s));
      if (n > 0 && (size_t)n < cap - used)
        used += (size_t)n;
    }
  }
  return ok;
}

/* ---- the sample document ----------------------------------------------------------------- */

/* The first sampled top-level attribute record with cluster/attr, and its frame. */
static json_t *sample_attr(json_t *sample, long cluster, long attr, json_t **frame, int *count) {
  json_t *first = NULL;
  *count = 0;
  size_t i, k;
  json_t *f, *a;
  json_array_foreach(json_object_get(sample, "frames"), i, f) {
    if (jint(f, "cluster") != cluster)
      continue;
    json_array_foreach(json_object_get(f, "attributes"), k, a) {
      if (jint(a, "id") == attr) {
        if (!first) {
          first = a;
          if (frame)
            *frame = f;
        }
        (*count)++;
      }
    }
  }
  return first;
}

static double num(json_t *v) {
  if (json_is_boolean(v))
    return json_is_true(v);
  return json_number_value(v);
}

/* ---- scaling rules of the facts ---------------------------------------------------------- */

/* What a facts "scale" says about the catalogue value: 1 and *k = wire per unit (value/100 ->
 * 100, value*100 -> 0.01, value -> 1); 2 for the ZCL log-lux encoding; 0 when it states no
 * rule this test can check. */
static int scale_rule(const char *s, double *k) {
  if (!s)
    return 0;
  if (strncmp(s, "lux = 10^((value-1)/10000)", 26) == 0)
    return 2;
  if (strncmp(s, "value/", 6) == 0 && s[6] >= '0' && s[6] <= '9') {
    char *end;
    double d = strtod(s + 6, &end);
    if (*end == 0 || *end == ' ') {
      *k = d;
      return 1;
    }
    return 0;
  }
  if (strncmp(s, "value*", 6) == 0 && s[6] >= '0' && s[6] <= '9') {
    char *end;
    double d = strtod(s + 6, &end);
    if (*end == 0 || *end == ' ') {
      *k = 1 / d;
      return 1;
    }
    return 0;
  }
  if (strcmp(s, "value") == 0 || strncmp(s, "value (", 7) == 0) {
    *k = 1;
    return 1;
  }
  return 0;
}

/* Plausible range of a quantity in unit, or 0 when the unit is not one we know. */
static int unit_range(const char *unit, double *lo, double *hi) {
  if (!unit)
    return 0;
  if (strcmp(unit, "degC") == 0) {
    *lo = -40;
    *hi = 85;
  } else if (strcmp(unit, "%RH") == 0) {
    *lo = 0;
    *hi = 100;
  } else if (strcmp(unit, "hPa") == 0) {
    *lo = 300;
    *hi = 1100;
  } else if (strcmp(unit, "mV") == 0) {
    *lo = 2000;
    *hi = 3400;
  } else {
    return 0;
  }
  return 1;
}

/* ---- one model --------------------------------------------------------------------------- */

struct walk {
  int models, models_clean;
  int examples, examples_ok, examples_unrepro, examples_quirk;
};
static struct walk W;

/* The endpoints the facts give for this model id: an endpoint_variants entry whose note names
 * the id (lumi.remote.b1acn01 shares an entry with lumi.sensor_switch.aq2), else "endpoints".
 * *variant is set when a variant applies. */
static json_t *facts_endpoints(json_t *dev, const char *id, int *variant) {
  *variant = 0;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(dev, "endpoint_variants"), i, v) {
    const char *note = json_string_value(json_object_get(v, "note"));
    if (note && strcmp(note, id) == 0 && json_object_get(v, "endpoint")) {
      *variant = 1;
      json_t *a = json_array();
      json_array_append(a, json_object_get(v, "endpoint"));
      return a;
    }
  }
  json_t *e = json_object_get(dev, "endpoints");
  json_incref(e);
  return e;
}

static void check_endpoints(struct tally *t, json_t *dev, const char *id, json_t *show) {
  int variant;
  json_t *eps = facts_endpoints(dev, id, &variant);
  size_t i;
  json_t *fe;
  json_array_foreach(eps, i, fe) {
    long eid = jint(fe, "id");
    json_t *se = show_endpoint(show, eid);
    int soft = is_inferred(fe);
    chk(t, se != NULL, soft, "endpoint %ld%s is missing", eid,
        variant ? " (the facts' variant for this id)" : "");
    if (!se)
      continue;
    long profile = jhex(fe, "profile"), dev_id = jhex(fe, "device_id");
    if (profile >= 0)
      chk(t, jint(se, "profile") == profile, soft, "endpoint %ld profile 0x%04llX, facts 0x%04lX",
          eid, jint(se, "profile"), profile);
    if (dev_id >= 0)
      chk(t, jint(se, "device_id") == dev_id, soft,
          "endpoint %ld device id 0x%04llX, facts 0x%04lX", eid, jint(se, "device_id"), dev_id);
    char diff[400];
    chk(t, same_clusters(json_object_get(fe, "in"), json_object_get(se, "in"), diff, sizeof diff),
        soft, "endpoint %ld in clusters:%s", eid, diff);
    chk(t, same_clusters(json_object_get(fe, "out"), json_object_get(se, "out"), diff, sizeof diff),
        soft, "endpoint %ld out clusters:%s", eid, diff);
  }
  json_decref(eps);
}

/* The model id an attribute entry names as its own, e.g. "on click (b1acn01)" in an entry shared
 * by lumi.sensor_switch.aq2 and lumi.remote.b1acn01: the id whose last part appears in
 * parentheses in its trigger or notes; NULL when it names none. */
static const char *attr_owner(json_t *dev, json_t *ra) {
  char text[600];
  snprintf(text, sizeof text, "%s %s",
           json_string_value(json_object_get(ra, "trigger"))
               ? json_string_value(json_object_get(ra, "trigger"))
               : "",
           json_string_value(json_object_get(ra, "notes"))
               ? json_string_value(json_object_get(ra, "notes"))
               : "");
  size_t k;
  json_t *idj;
  json_array_foreach(json_object_get(dev, "model_id"), k, idj) {
    const char *id = json_string_value(idj);
    const char *dot = strrchr(id, '.');
    char marker[64];
    snprintf(marker, sizeof marker, "(%s)", dot ? dot + 1 : id);
    if (strstr(text, marker))
      return id;
  }
  return NULL;
}

/* Whether a reported attribute of a shared entry applies to model id: the attributes an entry
 * marks as one id's belong to that id; the unmarked ones to the ids no attribute names. */
static int attr_applies(json_t *dev, json_t *ra, const char *id) {
  const char *owner = attr_owner(dev, ra);
  if (owner)
    return strcmp(owner, id) == 0;
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(dev, "reported_attributes"), i, o) {
    const char *other = attr_owner(dev, o);
    if (other && strcmp(other, id) == 0)
      return 0;
  }
  return 1;
}

static void check_reported(struct tally *t, json_t *dev, json_t *show, json_t *sample, int *seen,
                           int *listed) {
  size_t i;
  json_t *ra;
  json_array_foreach(json_object_get(dev, "reported_attributes"), i, ra) {
    long cluster = jhex(ra, "cluster"), attr = jhex(ra, "attr");
    if (!attr_applies(dev, ra, t->model)) {
      printf("  note %s: 0x%04lX/0x%04lX belongs to %s (the facts mark it so)\n", t->model, cluster,
             attr, attr_owner(dev, ra));
      continue;
    }
    const char *nm = json_string_value(json_object_get(ra, "name"));
    int conf_inf = is_inferred(ra);
    json_t *sa = show_attr(show, cluster, attr);
    chk(t, sa != NULL, conf_inf, "attribute 0x%04lX/0x%04lX (%s) is not in the catalogue", cluster,
        attr, nm ? nm : "");
    if (!sa)
      continue;
    int tinf;
    int type = parse_type(json_string_value(json_object_get(ra, "type")), &tinf);
    if (type >= 0)
      chk(t, jint(sa, "type") == type, tinf || conf_inf,
          "attribute 0x%04lX/0x%04lX type 0x%02llX, facts %s", cluster, attr, jint(sa, "type"),
          json_string_value(json_object_get(ra, "type")));
    json_t *v = json_object_get(sa, "value");
    double k = 0;
    const char *scale = json_string_value(json_object_get(ra, "scale"));
    int rule = scale_rule(scale, &k);
    if (rule == 1)
      chk(t,
          fabs(json_number_value(json_object_get(v, "scale")) - k) < 1e-9 &&
              strcmp(json_string_value(json_object_get(v, "encode")), "linear") == 0,
          conf_inf, "attribute 0x%04lX/0x%04lX scale %g (%s), facts \"%s\" (wire = value x %g)",
          cluster, attr, json_number_value(json_object_get(v, "scale")),
          json_string_value(json_object_get(v, "encode")), scale, k);
    else if (rule == 2)
      chk(t, strcmp(json_string_value(json_object_get(v, "encode")), "log_lux") == 0, conf_inf,
          "attribute 0x%04lX/0x%04lX encode %s, facts \"%s\"", cluster, attr,
          json_string_value(json_object_get(v, "encode")), scale);
    /* in the sampled frames: the same type on the wire, and a plausible value */
    json_t *frame = NULL;
    int n;
    json_t *wa = sample_attr(sample, cluster, attr, &frame, &n);
    (*listed)++;
    if (!wa) {
      /* not every reported attribute shows in a day (language, password added, alarms...) */
      printf("  note %s: 0x%04lX/0x%04lX (%s, report %s) not sent in the 26 h sample\n", t->model,
             cluster, attr, nm ? nm : "",
             json_string_value(json_object_get(json_object_get(sa, "report"), "mode")));
      continue;
    }
    (*seen)++;
    chk(t, jint(wa, "type") == jint(sa, "type"), 0,
        "sampled 0x%04lX/0x%04lX type 0x%02llX, catalogue 0x%02llX", cluster, attr,
        jint(wa, "type"), jint(sa, "type"));
    if (cluster == 0xFCC0)
      chk(t, jint(frame, "manufacturer_code") == 0x115F, 0,
          "sampled 0xFCC0/0x%04lX without manufacturer code 0x115F", attr);
    double lo, hi;
    const char *unit = json_string_value(json_object_get(ra, "unit"));
    if (rule == 1 && unit_range(unit, &lo, &hi)) {
      double x = num(json_object_get(wa, "value")) / k;
      chk(t, x >= lo && x <= hi, 0, "sampled 0x%04lX/0x%04lX = %g %s, outside %g..%g", cluster,
          attr, x, unit, lo, hi);
    }
  }
}

static void check_events(struct tally *t, json_t *dev, json_t *show, json_t *sample) {
  size_t i;
  json_t *ev;
  json_array_foreach(json_object_get(dev, "events"), i, ev) {
    if (jhex(ev, "cluster") != 0x0500)
      continue;
    /* the IAS alarm goes out as a Zone Status Change Notification, alarm1 = bit 0 */
    json_t *sa = NULL;
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(show, "attributes"), k, a) {
      if (jint(a, "cluster") == 0x0500 && json_is_true(json_object_get(a, "as_zone_status")))
        sa = a;
    }
    chk(t, sa != NULL, 0, "no 0x0500 attribute sent as a zone status change notification");
    if (sa) {
      json_t *v = json_object_get(sa, "value");
      chk(t,
          strcmp(json_string_value(json_object_get(v, "encode")), "zone_status") == 0 &&
              jint(v, "bit") == 0,
          0, "the zone alarm is not zoneStatus bit 0 (bit0 = alarm1 in the facts)");
    }
    chk(t, show_endpoint(show, 1) != NULL, 0, "no endpoint 1 for the IAS zone");
    int notes = 0;
    json_t *f;
    json_array_foreach(json_object_get(sample, "frames"), k, f) {
      if (jint(f, "cluster") == 0x0500 && json_is_true(json_object_get(f, "cluster_specific")) &&
          jint(f, "command") == 0)
        notes++;
    }
    printf("  note %s: %d zone status change notifications in the sample\n", t->model, notes);
  }
}

/* Does the model's example (example_hex / example_zcl_frame_hex) carry tag? 1, 0, or -1 when
 * there is no example. A heuristic on the decoded values: the example_decoded keys. */
static int example_has_tag(json_t *xs, long tag) {
  json_t *dec = json_object_get(xs, "example_decoded");
  if (!dec)
    return -1;
  char key[8];
  snprintf(key, sizeof key, "0x%02lX", tag);
  return json_object_get(dec, key) || json_object_get(json_object_get(dec, "0xFF01"), key) ? 1 : 0;
}

static void check_heartbeat(struct tally *t, json_t *dev, json_t *show, json_t *sample, int *n_hb) {
  const char *gen = json_string_value(json_object_get(dev, "generation"));
  json_t *xs = json_object_get(dev, "xiaomi_struct");
  json_t *hb = json_object_get(show, "heartbeat");
  *n_hb = 0;
  if (!xs)
    return;
  chk(t, json_is_object(hb), 0, "no heartbeat in the catalogue");
  if (!json_is_object(hb))
    return;
  long cl = -1, at = -1, ty = -1;
  if (gen && strcmp(gen, "legacy_ff01") == 0) {
    cl = 0x0000;
    at = 0xFF01;
    ty = 0x42;
  } else if (gen && strcmp(gen, "z3_00f7") == 0) {
    cl = 0xFCC0;
    at = 0x00F7;
    ty = 0x41;
  }
  if (cl >= 0)
    chk(t, jint(hb, "cluster") == cl && jint(hb, "attr") == at && jint(hb, "type") == ty, 0,
        "heartbeat 0x%04llX/0x%04llX type 0x%02llX, generation %s wants 0x%04lX/0x%04lX 0x%02lX",
        jint(hb, "cluster"), jint(hb, "attr"), jint(hb, "type"), gen, cl, at, ty);
  long xcl = jhex(xs, "cluster"), xat = jhex(xs, "attr");
  int tinf;
  int xty = parse_type(json_string_value(json_object_get(xs, "zcl_type")), &tinf);
  if (xcl >= 0 && xat >= 0)
    chk(t, jint(hb, "cluster") == xcl && jint(hb, "attr") == xat, 0,
        "heartbeat attribute 0x%04llX/0x%04llX, facts 0x%04lX/0x%04lX", jint(hb, "cluster"),
        jint(hb, "attr"), xcl, xat);
  if (xty >= 0)
    chk(t, jint(hb, "type") == xty, tinf, "heartbeat type 0x%02llX, facts 0x%02X", jint(hb, "type"),
        xty);
  long mc = jhex(xs, "manufacturer_code");
  if (mc >= 0)
    chk(t, jint(hb, "manufacturer_code") == mc, 0, "heartbeat manufacturer code");

  /* every tag and its type */
  size_t i;
  json_t *ft;
  json_array_foreach(json_object_get(xs, "tags"), i, ft) {
    long tag = jhex(ft, "tag");
    int inf = is_inferred(ft);
    json_t *st = show_tag(show, tag);
    if (!st && example_has_tag(xs, tag) == 0) {
      /* The tag list is the union over firmware versions; the model's real example frame is
       * what one unit sent, and the catalogue follows it (docs/devices.md). */
      printf("  note %s: heartbeat tag 0x%02lX (%s) is not sent, as in the facts' example frame "
             "of this model\n",
             t->model, tag, json_string_value(json_object_get(ft, "meaning")));
      t->checked++;
      t->passed++;
      g_check++;
      continue;
    }
    chk(t, st != NULL, inf, "heartbeat tag 0x%02lX (%s) is not in the catalogue", tag,
        json_string_value(json_object_get(ft, "meaning")));
    int ttype = parse_type(json_string_value(json_object_get(ft, "type")), &tinf);
    if (st && ttype >= 0)
      chk(t, jint(st, "type") == ttype, tinf || inf,
          "heartbeat tag 0x%02lX type 0x%02llX, facts %s", tag, jint(st, "type"),
          json_string_value(json_object_get(ft, "type")));
  }

  /* the sampled heartbeats: header 1C 5F 11, the attribute, and every tag of the catalogue in
   * its order, with its type */
  json_t *tags = json_object_get(hb, "tags");
  json_t *f;
  int bad_hdr = 0, bad_tags = 0, bad_type = 0;
  char why[300] = "";
  json_array_foreach(json_object_get(sample, "frames"), i, f) {
    if (jint(f, "cluster") != jint(hb, "cluster"))
      continue;
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(f, "attributes"), k, a) {
      if (jint(a, "id") != jint(hb, "attr"))
        continue;
      (*n_hb)++;
      if (jint(f, "frame_control") != 0x1C || jint(f, "manufacturer_code") != 0x115F)
        bad_hdr++;
      if (jint(a, "type") != jint(hb, "type"))
        bad_type++;
      json_t *tlv = json_object_get(a, "tlv");
      int same = json_array_size(tlv) == json_array_size(tags);
      for (size_t m = 0; same && m < json_array_size(tags); m++) {
        json_t *x = json_array_get(tlv, m), *y = json_array_get(tags, m);
        if (jint(x, "tag") != jint(y, "tag") || jint(x, "type") != jint(y, "type")) {
          same = 0;
          if (!why[0])
            snprintf(why, sizeof why,
                     "frame %zu member %zu is tag 0x%02llX type 0x%02llX, "
                     "catalogue tag 0x%02llX type 0x%02llX",
                     i, m, jint(x, "tag"), jint(x, "type"), jint(y, "tag"), jint(y, "type"));
        }
      }
      if (!same) {
        bad_tags++;
        if (!why[0])
          snprintf(why, sizeof why, "frame %zu has %zu members, the catalogue %zu tags", i,
                   json_array_size(tlv), json_array_size(tags));
      }
    }
  }
  chk(t, *n_hb > 0, 0, "no heartbeat in 26 h of sample");
  if (*n_hb == 0)
    return;
  chk(t, bad_hdr == 0, 0, "%d heartbeat frames without header 1C 5F 11 (manufacturer 0x115F)",
      bad_hdr);
  chk(t, bad_type == 0, 0, "%d heartbeat records of the wrong type", bad_type);
  chk(t, bad_tags == 0, 0, "%d heartbeats whose TLVs differ from the catalogue: %s", bad_tags, why);
  /* every facts tag the catalogue sends really travels in the frames */
  json_array_foreach(json_object_get(xs, "tags"), i, ft) {
    long tag = jhex(ft, "tag");
    if (!show_tag(show, tag) && example_has_tag(xs, tag) == 0)
      continue; /* not sent by this firmware (noted above) */
    int found = 0;
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(sample, "frames"), k, f) {
      if (found || jint(f, "cluster") != jint(hb, "cluster"))
        continue;
      size_t m;
      json_array_foreach(json_object_get(f, "attributes"), m, a) {
        size_t q;
        json_t *x;
        json_array_foreach(json_object_get(a, "tlv"), q, x) {
          if (jint(x, "tag") == tag)
            found = 1;
        }
      }
    }
    chk(t, found, is_inferred(ft), "heartbeat tag 0x%02lX never sent in the sample", tag);
  }
}

static void walk_model(json_t *dev, const char *id) {
  struct tally t = {.model = id};
  W.models++;
  printf("%s\n", id);
  const char *sa[] = {"devices", "show", id, "--json", NULL};
  json_t *show = run_json(sa, &t, "hubsim devices show");
  if (!show) {
    printf("SUMMARY %-24s facts checked %d, passed %d, warnings %d, failed %d (not in the "
           "catalogue)\n",
           id, t.checked, t.passed, t.warned, t.failed);
    return;
  }
  const char *sm[] = {"devices", "sample", id, "--seed", "1", "--duration", "26h", "--json", NULL};
  json_t *sample = run_json(sm, &t, "hubsim devices sample");
  if (!sample)
    sample = json_pack("{s:[]}", "frames");

  /* identity */
  const char *vm = json_string_value(json_object_get(dev, "vendor_model"));
  if (vm)
    chk(&t,
        json_string_value(json_object_get(show, "vendor_model")) &&
            strcmp(json_string_value(json_object_get(show, "vendor_model")), vm) == 0,
        0, "vendor model %s, facts %s", json_string_value(json_object_get(show, "vendor_model")),
        vm);
  const char *mn =
      json_string_value(json_object_get(json_object_get(dev, "basic"), "manufacturerName"));
  if (mn)
    chk(&t, starts_word(mn, json_string_value(json_object_get(show, "manufacturer"))), 0,
        "manufacturerName %s, facts %s", json_string_value(json_object_get(show, "manufacturer")),
        mn);

  /* node descriptor, power, device type, sleepy */
  json_t *nd = json_object_get(dev, "node_descriptor");
  long mc = jhex(nd, "manufacturer_code");
  if (mc >= 0)
    chk(&t, jint(show, "manufacturer_code") == mc, is_inferred(nd),
        "node descriptor manufacturer code 0x%04llX, facts 0x%04lX",
        jint(show, "manufacturer_code"), mc);
  const char *lt = json_string_value(json_object_get(nd, "logical_type"));
  const char *slt = json_string_value(json_object_get(show, "logical_type"));
  if (lt)
    chk(&t, strcmp(slt, strcmp(lt, "Router") == 0 ? "router" : "end_device") == 0, 0,
        "node descriptor logical type %s, facts %s", slt, lt);
  const char *dt = json_string_value(json_object_get(dev, "device_type"));
  if (dt)
    chk(&t, strcmp(slt, strcmp(dt, "Router") == 0 ? "router" : "end_device") == 0, 0,
        "device type %s, facts %s", slt, dt);
  const char *ps = json_string_value(json_object_get(dev, "power_source"));
  const char *sps = json_string_value(json_object_get(show, "power"));
  if (ps)
    chk(&t, strcmp(sps, strncmp(ps, "Battery", 7) == 0 ? "battery" : "mains") == 0, 0,
        "power %s, facts %s", sps, ps);
  json_t *sl = json_object_get(dev, "sleepy");
  if (json_is_boolean(sl))
    chk(&t, json_is_true(sl) == json_is_true(json_object_get(show, "sleepy")), 0,
        "sleepy %s, facts %s", json_is_true(json_object_get(show, "sleepy")) ? "true" : "false",
        json_is_true(sl) ? "true" : "false");

  check_endpoints(&t, dev, id, show);
  int seen = 0, listed = 0, n_hb = 0;
  check_reported(&t, dev, show, sample, &seen, &listed);
  check_events(&t, dev, show, sample);
  check_heartbeat(&t, dev, show, sample, &n_hb);

  if (t.failed == 0)
    W.models_clean++;
  printf("SUMMARY %-24s facts checked %d, passed %d, warnings %d, failed %d; 26 h sample: %zu "
         "frames, %d heartbeats, %d of %d reported attributes seen\n",
         id, t.checked, t.passed, t.warned, t.failed,
         json_array_size(json_object_get(sample, "frames")), n_hb, seen, listed);
  json_decref(show);
  json_decref(sample);
}

/* ---- byte-level examples ----------------------------------------------------------------- */

struct tlv {
  uint8_t tag, type;
  double value; /* from the example's bytes */
};

/* Parses a TLV list; the count, or -1 (unknown type or truncated). *used: bytes consumed. */
static int parse_tlvs(const uint8_t *p, size_t n, struct tlv *out, int cap, size_t *used) {
  size_t o = 0;
  int k = 0;
  while (o + 2 <= n && k < cap) {
    uint8_t tag = p[o], type = p[o + 1];
    int size;
    int kind = 0; /* 0 uint, 1 int, 2 float, 3 bool */
    if (type == 0x10)
      size = 1, kind = 3;
    else if (type >= 0x20 && type <= 0x27)
      size = type - 0x1F;
    else if (type >= 0x28 && type <= 0x2F)
      size = type - 0x27, kind = 1;
    else if (type >= 0x18 && type <= 0x1F)
      size = type - 0x17;
    else if (type == 0x39)
      size = 4, kind = 2;
    else
      return -1;
    if (o + 2 + (size_t)size > n)
      return -1;
    uint64_t u = 0;
    for (int b = size - 1; b >= 0; b--)
      u = u << 8 | p[o + 2 + b];
    double v;
    if (kind == 2) {
      uint32_t w = (uint32_t)u;
      float fl;
      memcpy(&fl, &w, 4);
      v = fl;
    } else if (kind == 1) {
      int64_t s = (int64_t)(u << (64 - 8 * size)) >> (64 - 8 * size);
      v = (double)s;
    } else {
      v = (double)u;
    }
    out[k].tag = tag;
    out[k].type = type;
    out[k].value = v;
    k++;
    o += 2 + (size_t)size;
  }
  *used = o;
  return k;
}

/* The example's decoded value of tag, from example_decoded (or its "0xFF01" member). */
static json_t *decoded_tag(json_t *dec, uint8_t tag) {
  char key[8];
  snprintf(key, sizeof key, "0x%02X", tag);
  json_t *v = json_object_get(dec, key);
  if (!v)
    v = json_object_get(json_object_get(dec, "0xFF01"), key);
  if (!v)
    v = json_object_get(json_object_get(dec, "0x00F7"), key);
  return v;
}

/* A model's example frame from the facts, and where its heartbeat TLV list sits in it. */
struct example {
  const char *id;
  int is_frame; /* a whole ZCL frame (example_zcl_frame_hex), not a bare record */
  uint8_t ex[512];
  size_t n;
  uint8_t tsn;
  int has_model_rec; /* a model-name record (0x0005) comes first */
  int has_rec;       /* the heartbeat attribute's record header is there, not only the TLVs */
  size_t tlv_at, tlv_len;
  size_t trailing; /* bytes after the declared length */
  int short_by;    /* the declared length counts bytes the example does not have */
  struct tlv et[64];
  int ne;
};

/* Finds the TLV list in e->ex and parses it. Returns 0, or -1 after a failed check. */
static int example_locate(struct example *e, struct tally *t, const struct dev_cat_model *cm,
                          json_t *xs) {
  const uint8_t *ex = e->ex;
  size_t n = e->n, o = 0;
  if (e->is_frame) {
    assert_true(n >= 5 && ex[0] == 0x1C);
    e->tsn = ex[3];
    o = 5;
  }
  if (n >= o + 4 && ex[o] == 0x05 && ex[o + 1] == 0x00 && ex[o + 2] == 0x42) {
    e->has_model_rec = 1;
    o += 4 + ex[o + 3];
  }
  if (n >= o + 4 && ex[o] == (cm->hb.attr & 0xFF) && ex[o + 1] == (cm->hb.attr >> 8) &&
      ex[o + 2] == cm->hb.type) {
    e->has_rec = 1;
    e->tlv_at = o + 4;
    e->tlv_len = ex[o + 3];
  } else if (n >= o + 4 &&
             ((ex[o] == 0x01 && ex[o + 1] == 0xFF) || (ex[o] == 0xF7 && ex[o + 1] == 0x00))) {
    chk(t, 0, 0,
        "the example's heartbeat record is 0x%02X%02X type 0x%02X, the catalogue's "
        "0x%04X type 0x%02X",
        ex[o + 1], ex[o], ex[o + 2], cm->hb.attr, cm->hb.type);
    return -1;
  } else {
    e->tlv_at = o;
    e->tlv_len = n - o;
  }
  if (e->tlv_at + e->tlv_len > n) {
    e->short_by = (int)(e->tlv_at + e->tlv_len - n);
    printf("  note %s: the example declares a TLV list of %zu bytes but %zu follow\n", e->id,
           e->tlv_len, e->tlv_len - (size_t)e->short_by);
    e->tlv_len -= (size_t)e->short_by;
  }
  e->trailing = n - (e->tlv_at + e->tlv_len);
  size_t used;
  e->ne = parse_tlvs(ex + e->tlv_at, e->tlv_len, e->et, 64, &used);
  if (e->ne < 0 || used != e->tlv_len) {
    chk(t, 0, 0, "cannot parse the example's TLVs");
    return -1;
  }
  if (e->trailing)
    printf("  note %s: %zu byte(s) after the declared length (%s); compared without them\n", e->id,
           e->trailing,
           json_string_value(json_object_get(xs, "example_quirk"))
               ? json_string_value(json_object_get(xs, "example_quirk"))
               : "no quirk stated");
  return 0;
}

/* Appends to diff[*dl] (of cap bytes) what snprintf makes of fmt, when it fits. */
static void diff_add(char *diff, size_t cap, size_t *dl, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void diff_add(char *diff, size_t cap, size_t *dl, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(diff + *dl, cap - *dl, fmt, ap);
  va_end(ap);
  if (w > 0 && (size_t)w < cap - *dl)
    *dl += (size_t)w;
}

/* The catalogue's layout against the example's: same tags, same types, same order. Returns
 * whether they agree; where not, diff says how. */
static int example_same_layout(const struct example *e, const struct dev_cat_model *cm, char *diff,
                               size_t cap) {
  size_t dl = 0;
  diff[0] = 0;
  int same = e->ne == cm->hb.n_tags;
  for (int i = 0; i < e->ne; i++) {
    const struct tlv *x = &e->et[i];
    const struct dev_cat_tag *ct = NULL;
    int at = -1;
    for (int k = 0; k < cm->hb.n_tags; k++)
      if (cm->hb.tags[k].tag == x->tag)
        ct = &cm->hb.tags[k], at = k;
    if (!ct)
      diff_add(diff, cap, &dl, " example tag 0x%02X (type 0x%02X) not in the catalogue;", x->tag,
               x->type);
    else if (ct->v.type != x->type)
      diff_add(diff, cap, &dl, " tag 0x%02X type 0x%02X, example 0x%02X;", x->tag, ct->v.type,
               x->type);
    else if (at != i)
      diff_add(diff, cap, &dl, " tag 0x%02X at position %d, example %d;", x->tag, at, i);
    if (!ct || ct->v.type != x->type || at != i)
      same = 0;
  }
  for (int k = 0; k < cm->hb.n_tags; k++) {
    int found = 0;
    for (int i = 0; i < e->ne; i++)
      if (e->et[i].tag == cm->hb.tags[k].tag)
        found = 1;
    if (!found) {
      diff_add(diff, cap, &dl, " catalogue tag 0x%02X not in the example;", cm->hb.tags[k].tag);
      same = 0;
    }
  }
  return same;
}

/* Rebuilds the example with the encoder: the catalogue's layout, the example's decoded values
 * (dec). Writes into buf (512 bytes); *got and *got_n are what compares with the example (the
 * bare TLV list when the example is one). Returns whether every value came from the facts. */
static int example_rebuild(const struct example *e, const struct dev_cat_model *cm, json_t *dec,
                           uint8_t *buf, const uint8_t **got, size_t *got_n) {
  struct dev_hb_tag lt[64];
  int vals_ok = 1;
  for (int k = 0; k < cm->hb.n_tags; k++) {
    lt[k].tag = cm->hb.tags[k].tag;
    lt[k].type = cm->hb.tags[k].v.type;
    json_t *v = decoded_tag(dec, lt[k].tag);
    if (!v) {
      vals_ok = 0;
      printf("  note %s: tag 0x%02X has no decoded value in the facts\n", e->id, lt[k].tag);
      lt[k].k = e->et[k].value;
      continue;
    }
    double d = num(v);
    /* the facts print floats rounded; the exact single-precision value is in the bytes */
    if (lt[k].type == 0x39 && fabs(d - e->et[k].value) <= 1e-4 * fmax(1, fabs(d)))
      d = e->et[k].value;
    lt[k].k = d;
  }
  struct dev_hb_layout layout = {.cluster = cm->hb.cluster,
                                 .attr = cm->hb.attr,
                                 .type = cm->hb.type,
                                 .tags = lt,
                                 .n_tags = cm->hb.n_tags};
  struct dev_zcl_w w;
  dev_zcl_w_init(&w, buf, 512);
  if (e->is_frame)
    dev_zcl_put_header(&w, DEV_LUMI_MFR_CODE, e->tsn, 0x0A);
  if (e->has_model_rec)
    dev_zcl_attr_cstr(&w, 0x0005, cm->m.model_id);
  size_t rec_start = w.len;
  dev_xiaomi_put_hb(&w, &layout);
  assert_int_equal(dev_zcl_w_err(&w), 0);
  /* the model's declared-length adjustment, as the engine applies it (docs/catalog.md) */
  buf[rec_start + 3] = (uint8_t)(buf[rec_start + 3] + cm->hb.length_adjust);
  *got = buf;
  *got_n = w.len;
  if (!e->has_rec) { /* the example is the bare TLV list */
    *got = buf + rec_start + 4;
    *got_n = w.len - rec_start - 4;
  }
  return vals_ok;
}

/* The same bytes but for the declared length, where the example's length is short? Then the
 * example's length is the quirk (the encoder writes the length of what it sends): reported as
 * a warning, not hidden. Returns whether that is the case. */
static int example_length_quirk(const struct example *e, struct tally *t, const uint8_t *got,
                                size_t got_n) {
  size_t want_n = e->n - e->trailing;
  if (!e->short_by || !e->has_rec || got_n != want_n)
    return 0;
  size_t len_at = e->tlv_at - 1;
  uint8_t patched[512];
  memcpy(patched, got, got_n);
  patched[len_at] = e->ex[len_at];
  if (memcmp(patched, e->ex, want_n) != 0)
    return 0;
  W.examples_quirk++;
  t->checked++;
  g_check++;
  g_warn++;
  printf("  WARN %s: reproduced except the declared TLV length: the example says 0x%02X with "
         "%zu bytes following, the encoder writes 0x%02X [a quirk of the real frame?]\n",
         e->id, e->ex[len_at], e->tlv_len, got[len_at]);
  printf("RESULT %s example: reproduced except its declared length byte (facts 0x%02X, "
         "encoder 0x%02X)\n",
         e->id, e->ex[len_at], got[len_at]);
  return 1;
}

static void check_example(json_t *dev, const char *id, const struct dev_cat_model *cm) {
  json_t *xs = json_object_get(dev, "xiaomi_struct");
  const char *frame_hex = json_string_value(json_object_get(xs, "example_zcl_frame_hex"));
  const char *rec_hex = json_string_value(json_object_get(xs, "example_hex"));
  const char *hex = frame_hex ? frame_hex : rec_hex;
  if (!hex)
    return;
  W.examples++;
  json_t *dec = json_object_get(xs, "example_decoded");
  const char *src = json_string_value(json_object_get(xs, "example_source"));
  int inferred = src && strstr(src, "[inf]") != NULL;
  struct tally t = {.model = id};
  printf("EXAMPLE %s (%s): %s\n", id, frame_hex ? "example_zcl_frame_hex" : "example_hex", hex);
  if (!cm) {
    chk(&t, 0, 0, "not in the catalogue");
    return;
  }
  struct example e = {.id = id, .is_frame = frame_hex != NULL};
  int n = unhex(hex, e.ex, sizeof e.ex);
  assert_true(n > 0);
  e.n = (size_t)n;
  if (example_locate(&e, &t, cm, xs))
    return;

  char diff[1200];
  if (!example_same_layout(&e, cm, diff, sizeof diff)) {
    W.examples_unrepro++;
    chk(&t, 0, inferred,
        "NOT REPRODUCIBLE: the model's heartbeat tags differ from the "
        "example's:%s",
        diff);
    printf("RESULT %s example: not reproducible (tag layout differs)%s\n", id,
           inferred ? " - the facts attribute this example to the model by inference" : "");
    return;
  }

  uint8_t buf[512];
  const uint8_t *got;
  size_t got_n;
  int vals_ok = example_rebuild(&e, cm, dec, buf, &got, &got_n);
  size_t want_n = e.n - e.trailing;
  /* the quirk: the declared length counts without the trailing byte, so it stays as sent */
  int equal = got_n == want_n && memcmp(got, e.ex, want_n) == 0;
  if (!equal && example_length_quirk(&e, &t, got, got_n))
    return;
  char gh[1100], wh[1100];
  hexs(gh, got, got_n);
  hexs(wh, e.ex, want_n);
  chk(&t, equal, 0, "encoder output differs from the example:\n    encoder %s\n    example %s", gh,
      wh);
  if (equal) {
    W.examples_ok++;
    printf("RESULT %s example: reproduced byte for byte (%zu bytes)%s\n", id, want_n,
           vals_ok ? "" : " (some values taken from the example's bytes)");
  } else {
    printf("RESULT %s example: MISMATCH\n", id);
  }
}

/* ---- the walk ---------------------------------------------------------------------------- */

static json_t *load_facts(void) {
  const char *path = getenv("HUBSIM_FACTS");
  char def[1024];
  if (!path || !*path)
    path = HUBSIM_FACTS_DEFAULT;
  if (!*path) {
    const char *src = getenv("HUBSIM_SOURCE_DIR");
    assert_non_null(src);
    snprintf(def, sizeof def, "%s/tests/data/aqara-zigbee.json", src);
    path = def;
  }
  json_error_t e;
  json_t *facts = json_load_file(path, 0, &e);
  if (!facts)
    fail_msg("cannot read the facts file %s: %s", path, e.text);
  printf("facts: %s\n", path);
  return facts;
}

static void test_facts_walk(void **state) {
  (void)state;
  if (!getenv("HUBSIM_BIN"))
    fail_msg("HUBSIM_BIN is not set (run this test with ctest)");
  json_t *facts = load_facts();
  json_t *devs = json_object_get(facts, "devices");
  assert_true(json_array_size(devs) >= 20);
  struct dev_cat_error err;
  memset(&err, 0, sizeof err);
  int rc = dev_cat_global_init(NULL, 0, &err);
  if (rc != 0)
    fail_msg("the built-in catalogue does not load: %s:%d: %s", err.file, err.line, err.reason);
  const struct dev_cat *cat = dev_cat_global();

  size_t i;
  json_t *dev;
  json_array_foreach(devs, i, dev) {
    json_t *ids = json_object_get(dev, "model_id");
    size_t k;
    json_t *idj;
    json_array_foreach(ids, k, idj) {
      walk_model(dev, json_string_value(idj));
    }
  }
  printf("\nbyte-level examples\n");
  json_array_foreach(devs, i, dev) {
    json_t *ids = json_object_get(dev, "model_id");
    const char *id = json_string_value(json_array_get(ids, 0));
    check_example(dev, id, dev_cat_find(cat, id));
  }
  printf("\nTOTAL: %d models (%d without failures), %d facts checked, %d failed, %d warnings "
         "(inferred facts); examples: %d, reproduced %d, not reproducible %d, length quirk %d\n",
         W.models, W.models_clean, g_check, g_fail, g_warn, W.examples, W.examples_ok,
         W.examples_unrepro, W.examples_quirk);
  json_decref(facts);
  fflush(stdout);
  if (g_fail)
    fail_msg("%d facts of the facts file are not met (FAIL lines above)", g_fail);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_facts_walk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
