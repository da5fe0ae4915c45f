/* The generic model's chains between channels: the steps a command takes besides its own action
 * (`then`) and the steps an event of one channel takes on another (`chains`), each under its
 * conditions. The loader refuses chains that lead back to where they started; the bounds here
 * keep a wakeup finite even for tables that did not come through the loader. */
#include <stddef.h>
#include <string.h>

#include "devices/generic_internal.h"

/* More than any loaded model can take in one wakeup: n_chain <= DEV_CAT_CHAINS_MAX steps follow
 * one another, and a wakeup fires each channel a few times at most. */
#define STEPS_MAX 256

void dev__run_step(struct dev__run *r, const struct dev_cat_step *s, double src,
                   uint32_t delay_ms) {
  if (s->ch < 0 || s->ch >= r->cm->n_ch)
    return;
  for (uint8_t i = 0; i < s->n_cond && i < DEV_CAT_IF_MAX; i++)
    if (dev_generic_value(r->cm, r->d, r->env, s->cond[i].ch) != s->cond[i].k)
      return;
  uint8_t action = s->action;
  double k = action == DEV_DO_ON ? 1 : action == DEV_DO_OFF ? 0 : s->k;
  if (action == DEV_DO_FOLLOW)
    k = src != 0;
  if (action != DEV_DO_TOGGLE) {
    /* A step changes only what differs: an actuator already at (or on its way to) k is left
     * alone, so it reports nothing it would not report without the step. */
    const struct dev_cat_channel *c = &r->cm->ch[s->ch];
    float target;
    memcpy(&target, r->d->state.b + c->off_a, sizeof target);
    if (c->kind == DEV_CH_ACTUATOR && c->off_a != DEV_CAT_NO_OFF && target == (float)k)
      return;
    action = DEV_DO_SET;
  }
  dev__run_apply(r, action, s->ch, k, delay_ms);
}

void dev__run_chains(struct dev__run *r, int ch) {
  const struct dev_cat_model *cm = r->cm;
  if (r->depth >= DEV_CAT_CHAINS_MAX)
    return;
  r->depth++;
  for (uint8_t i = 0; i < cm->n_chain && r->steps < STEPS_MAX; i++) {
    const struct dev_cat_chain *c = &cm->chain[i];
    if (c->when != ch)
      continue;
    r->steps++;
    dev__run_step(r, &c->s, dev_generic_value(cm, r->d, r->env, ch), 0);
  }
  r->depth--;
}
