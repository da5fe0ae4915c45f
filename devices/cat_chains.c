/* The catalogue loader: what ties a model's attributes and channels together: several
 * attributes in one report frame (`same_frame` of an attribute), steps a command takes besides
 * its own action (`then` of a command) and chains between channels (`chains` of a model), with
 * the check that a chain ends. Every message of these keys names the model: the same key means
 * different things in different models. */
#include "devices/cat_load_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devices/zcl_enc.h"
#include "sim/core/err.h"
#include "sim/wire/zcl.h"

/* dev_cat__fail() with the model id after the key path. */
static int fail_m(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *n,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail_m(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *n,
                  const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return dev_cat__fail(x, n, "model %s: %s", cm->m.model_id, msg);
}

/* ---- steps (a command's `then`, a chain) -------------------------------------------------- */

/* Indexed by enum dev_action; an empty word is never matched. */
static const char *const step_actions[] = {"", "set", "on", "off",    "toggle",
                                           "", "",    "",   "follow", NULL};

/* `if: {CHANNEL: VALUE, ...}`: at most DEV_CAT_IF_MAX conditions. */
static int parse_if(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *v,
                    struct dev_cat_step *s) {
  if (!v)
    return 0;
  size_t o = dev_cat__push_key(x, "if");
  int r = 0;
  if (v->type != YAML_MAPPING_NODE || map_len(v) == 0 || map_len(v) > DEV_CAT_IF_MAX) {
    r = fail_m(x, cm, v, "expected a mapping of 1 to %d conditions CHANNEL: VALUE", DEV_CAT_IF_MAX);
    goto out;
  }
  for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(x, p->key), *val = node(x, p->value);
    struct dev_cat_cond *c = &s->cond[s->n_cond];
    if ((r = dev_cat__chref(x, cm, k, &c->ch)))
      goto out;
    size_t o2 = dev_cat__push_key(x, sc(k));
    r = dev_cat__num(x, val, &c->k);
    dev_cat__pop(x, o2);
    if (r)
      goto out;
    for (uint8_t j = 0; j < s->n_cond; j++)
      if (s->cond[j].ch == c->ch) {
        r = fail_m(x, cm, k, "channel \"%s\" named twice", cm->ch[c->ch].name);
        goto out;
      }
    s->n_cond++;
  }
out:
  dev_cat__pop(x, o);
  return r;
}

/* do, channel, value, if of one step; the caller has checked the mapping's keys. */
static int parse_step(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *m,
                      struct dev_cat_step *s) {
  int r, act;
  if ((r = dev_cat__key_enum(x, m, "do", 1, 0, step_actions, &act)) ||
      (r = dev_cat__key_chref(x, cm, m, "channel", 1, &s->ch)))
    return r;
  s->action = (uint8_t)act;
  if (cm->ch[s->ch].kind != DEV_CH_ACTUATOR) {
    size_t o = dev_cat__push_key(x, "channel");
    r = fail_m(x, cm, dev_cat__get(x, m, "channel"),
               "\"%s\" (%s) is not an actuator: a step changes an actuator", cm->ch[s->ch].name,
               dev_cat__kind_name(cm->ch[s->ch].kind));
    dev_cat__pop(x, o);
    return r;
  }
  if (act == DEV_DO_SET) {
    if ((r = dev_cat__key_num(x, m, "value", 1, 0, &s->k)))
      return r;
  } else if (dev_cat__get(x, m, "value")) {
    size_t o = dev_cat__push_key(x, "value");
    r = fail_m(x, cm, dev_cat__get(x, m, "value"), "only with do: set");
    dev_cat__pop(x, o);
    return r;
  }
  return parse_if(x, cm, dev_cat__get(x, m, "if"), s);
}

int dev_cat__parse_then(struct cat_ld *x, const struct dev_cat_model *cm, const yaml_node_t *m,
                        struct dev_cat_command *c) {
  static const char *const keys[] = {"do", "channel", "value", "if", NULL};
  yaml_node_t *then = dev_cat__get(x, m, "then");
  if (!then)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, "then");
  if (!is_seq(then) || seq_len(then) == 0 || seq_len(then) > DEV_CAT_THEN_MAX) {
    r = fail_m(x, cm, then, "expected a list of 1 to %d steps", DEV_CAT_THEN_MAX);
    goto out;
  }
  if (c->action == DEV_DO_STOP) {
    r = fail_m(x, cm, then, "not with do: stop (a stop sets no value)");
    goto out;
  }
  for (size_t i = 0; i < seq_len(then); i++) {
    yaml_node_t *s = node(x, then->data.sequence.items.start[i]);
    size_t o2 = dev_cat__push_idx(x, i);
    if (!(r = dev_cat__check_map(x, s, keys)) && !(r = parse_step(x, cm, s, &c->then[i]))) {
      if (c->then[i].ch == c->ch)
        r = fail_m(x, cm, s, "the step changes \"%s\", the command's own channel",
                   cm->ch[c->ch].name);
      else if (c->then[i].action == DEV_DO_FOLLOW && c->action != DEV_DO_SET &&
               c->action != DEV_DO_ARG)
        r = fail_m(x, cm, s, "do: follow needs a command that sets a value (do: set or arg)");
    }
    dev_cat__pop(x, o2);
    if (r)
      goto out;
    c->n_then++;
  }
out:
  dev_cat__pop(x, o);
  return r;
}

/* ---- chains between channels --------------------------------------------------------------- */

int dev_cat__parse_chains(struct cat_ld *x, struct dev_cat_model *cm, const yaml_node_t *model) {
  static const char *const keys[] = {"when", "do", "channel", "value", "if", NULL};
  yaml_node_t *cs = dev_cat__get(x, model, "chains");
  if (!cs)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, "chains");
  if (!is_seq(cs) || seq_len(cs) > DEV_CAT_CHAINS_MAX) {
    r = fail_m(x, cm, cs, "expected a list of at most %d chains", DEV_CAT_CHAINS_MAX);
    goto out;
  }
  cm->chain = dev_cat__alloc(&x->ar, (seq_len(cs) ? seq_len(cs) : 1) * sizeof(*cm->chain));
  if (!cm->chain) {
    r = dev_cat__fail_oom(x);
    goto out;
  }
  for (size_t i = 0; i < seq_len(cs); i++) {
    yaml_node_t *m = node(x, cs->data.sequence.items.start[i]);
    struct dev_cat_chain *ch = &cm->chain[i];
    size_t o2 = dev_cat__push_idx(x, i);
    if (!(r = dev_cat__check_map(x, m, keys)) &&
        !(r = dev_cat__key_chref(x, cm, m, "when", 1, &ch->when)) && !cm->ch[ch->when].is_event) {
      size_t o3 = dev_cat__push_key(x, "when");
      r = fail_m(x, cm, dev_cat__get(x, m, "when"), "channel \"%s\" (%s) has no events",
                 cm->ch[ch->when].name, dev_cat__kind_name(cm->ch[ch->when].kind));
      dev_cat__pop(x, o3);
    }
    if (!r)
      r = parse_step(x, cm, m, &ch->s);
    dev_cat__pop(x, o2);
    if (r)
      goto out;
    cm->n_chain++;
  }
out:
  dev_cat__pop(x, o);
  return r;
}

/* ---- several attributes in one report frame ------------------------------------------------ */

/* The bytes one record of a takes in a report: id (2), type (1), value (fixed or the longest
 * string the format allows: length byte + DEV_CAT_BYTES_MAX). */
static size_t record_bytes(const struct dev_cat_attr *a) {
  int n = sim_zcl_type_size(a->v.type);
  return 3 + (n > 0 ? (size_t)n : 1 + DEV_CAT_BYTES_MAX);
}

static int check_same(struct cat_ld *x, struct dev_cat_model *cm, struct dev_cat_attr *a,
                      const yaml_node_t *item, uint16_t id) {
  int k = -1;
  for (uint8_t j = 0; j < cm->n_attr; j++)
    if (cm->attr[j].ep == a->ep && cm->attr[j].cluster == a->cluster && cm->attr[j].attr == id)
      k = j;
  if (k < 0)
    return fail_m(x, cm, item, "0x%04X is not an attribute of endpoint %u cluster 0x%04X", id,
                  a->ep, a->cluster);
  struct dev_cat_attr *b = &cm->attr[k];
  if (b == a)
    return fail_m(x, cm, item, "0x%04X is the attribute itself", id);
  if (b->mfr != a->mfr)
    return fail_m(x, cm, item, "0x%04X has another manufacturer code (mfr) than 0x%04X", id,
                  a->attr);
  if (b->report != DEV_REP_NONE || b->on_join || b->n_same)
    return fail_m(x, cm, item,
                  "0x%04X is reported by itself (report, on_join or same_frame): an attribute "
                  "sent in another's frame has none of them",
                  id);
  if (b->in_frame_of)
    return fail_m(x, cm, item, "0x%04X is already sent in another attribute's frame", id);
  b->in_frame_of = 1;
  a->same[a->n_same++] = (uint8_t)k;
  return 0;
}

/* After every attribute is read: `same_frame` may name attributes listed after it. */
int dev_cat__parse_same_frames(struct cat_ld *x, struct dev_cat_model *cm,
                               const yaml_node_t *model) {
  yaml_node_t *as = dev_cat__get(x, model, "attributes");
  if (!as)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, "attributes");
  for (uint8_t i = 0; i < cm->n_attr && !r; i++) {
    yaml_node_t *m = node(x, as->data.sequence.items.start[i]);
    yaml_node_t *v = dev_cat__get(x, m, "same_frame");
    struct dev_cat_attr *a = &cm->attr[i];
    if (!v)
      continue;
    size_t o2 = dev_cat__push_idx(x, i), o3 = dev_cat__push_key(x, "same_frame");
    if (!is_seq(v) || seq_len(v) == 0 || seq_len(v) > DEV_CAT_SAME_FRAME_MAX)
      r = fail_m(x, cm, v, "expected a list of 1 to %d attribute ids", DEV_CAT_SAME_FRAME_MAX);
    else if (a->report == DEV_REP_NONE && !a->on_join)
      r = fail_m(x, cm, v, "attribute 0x%04X is never reported (no report, no on_join)", a->attr);
    else if (a->as_zone_status)
      r = fail_m(x, cm, v, "not with as: zone_status_change (a command, not a report)");
    size_t bytes = 5 + record_bytes(a);
    for (size_t j = 0; !r && j < seq_len(v); j++) {
      yaml_node_t *item = node(x, v->data.sequence.items.start[j]);
      double id;
      size_t o4 = dev_cat__push_idx(x, j);
      if (!(r = dev_cat__inum(x, item, 0, 0xFFFF, &id)) &&
          !(r = check_same(x, cm, a, item, (uint16_t)id)))
        bytes += record_bytes(&cm->attr[a->same[a->n_same - 1]]);
      dev_cat__pop(x, o4);
    }
    if (!r && bytes > DEV_ZCL_FRAME_MAX)
      r = fail_m(x, cm, v, "the report frame could take %zu bytes, more than the %d of a ZCL frame",
                 bytes, DEV_ZCL_FRAME_MAX);
    dev_cat__pop(x, o3);
    dev_cat__pop(x, o2);
  }
  dev_cat__pop(x, o);
  return r;
}
