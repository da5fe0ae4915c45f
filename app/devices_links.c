/* `hubsim devices show`: the links between a model's parts, see devices_links.h. */
#include "app/devices_links.h"

#include <stdio.h>

static const char *ch_name(const struct dev_cat_model *cm, int ch) {
  return ch >= 0 && ch < cm->n_ch ? cm->ch[ch].name : "?";
}

static json_t *step_json(const struct dev_cat_model *cm, const struct dev_cat_step *s) {
  json_t *j =
      json_pack("{s:s, s:s}", "do", dev_cat_action_name(s->action), "channel", ch_name(cm, s->ch));
  if (s->action == DEV_DO_SET)
    json_object_set_new(j, "value", json_real(s->k));
  json_t *cond = json_object();
  for (int i = 0; i < s->n_cond && i < DEV_CAT_IF_MAX; i++)
    json_object_set_new(cond, ch_name(cm, s->cond[i].ch), json_real(s->cond[i].k));
  json_object_set_new(j, "if", cond);
  return j;
}

static void step_text(const struct dev_cat_model *cm, const struct dev_cat_step *s) {
  printf("%s %s", dev_cat_action_name(s->action), ch_name(cm, s->ch));
  if (s->action == DEV_DO_SET)
    printf(" = %g", s->k);
  for (int i = 0; i < s->n_cond && i < DEV_CAT_IF_MAX; i++)
    printf("%s%s == %g", i ? " and " : " if ", ch_name(cm, s->cond[i].ch), s->cond[i].k);
}

void app_devices_attr_links_json(json_t *j, const struct dev_cat_model *cm,
                                 const struct dev_cat_attr *a) {
  json_t *same = json_array();
  for (int i = 0; i < a->n_same && i < DEV_CAT_SAME_FRAME_MAX; i++)
    if (a->same[i] < cm->n_attr)
      json_array_append_new(same, json_string(cm->attr[a->same[i]].name));
  json_object_set_new(j, "same_frame", same);
  json_object_set_new(j, "at_once_with",
                      a->report == DEV_REP_CHANGE && a->at_once_ch >= 0
                          ? json_string(ch_name(cm, a->at_once_ch))
                          : json_null());
}

void app_devices_cmd_links_json(json_t *j, const struct dev_cat_model *cm,
                                const struct dev_cat_command *k) {
  json_t *then = json_array();
  for (int i = 0; i < k->n_then && i < DEV_CAT_THEN_MAX; i++)
    json_array_append_new(then, step_json(cm, &k->then[i]));
  json_object_set_new(j, "then", then);
}

void app_devices_chains_json(json_t *o, const struct dev_cat_model *cm) {
  json_t *chains = json_array();
  for (int i = 0; i < cm->n_chain; i++) {
    json_t *s = step_json(cm, &cm->chain[i].s);
    json_object_set_new(s, "when", json_string(ch_name(cm, cm->chain[i].when)));
    json_array_append_new(chains, s);
  }
  json_object_set_new(o, "chains", chains);
}

void app_devices_attr_links_text(const struct dev_cat_model *cm, const struct dev_cat_attr *a) {
  if (a->report == DEV_REP_CHANGE && a->at_once_ch >= 0)
    printf("; at once when %s has an event", ch_name(cm, a->at_once_ch));
  for (int i = 0; i < a->n_same && i < DEV_CAT_SAME_FRAME_MAX; i++)
    if (a->same[i] < cm->n_attr)
      printf("%s%s", i ? ", " : "; with ", cm->attr[a->same[i]].name);
  if (a->n_same)
    printf(" in its frame");
}

void app_devices_cmd_links_text(const struct dev_cat_model *cm, const struct dev_cat_command *k) {
  for (int i = 0; i < k->n_then && i < DEV_CAT_THEN_MAX; i++) {
    printf(i ? ", " : "; then ");
    step_text(cm, &k->then[i]);
  }
}

void app_devices_chains_text(const struct dev_cat_model *cm) {
  if (cm->n_chain == 0)
    return;
  printf("chains\n");
  for (int i = 0; i < cm->n_chain; i++) {
    printf("  when %-15s ", ch_name(cm, cm->chain[i].when));
    step_text(cm, &cm->chain[i].s);
    printf("\n");
  }
}
