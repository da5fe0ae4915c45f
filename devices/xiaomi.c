/* Xiaomi TLV heartbeat builder. */
#include "devices/xiaomi.h"

#include "sim/core/err.h"
#include "sim/wire/zcl.h"

void dev_xiaomi_put_hb(struct dev_zcl_w *w, const struct dev_hb_layout *l) {
  dev_zcl_put_le(w, l->attr, 2);
  dev_zcl_put_le(w, l->type, 1);
  /* The length byte is known only after the members are written: reserve, then patch. */
  size_t at = w->len;
  dev_zcl_put_le(w, 0, 1);
  for (uint8_t i = 0; i < l->n_tags; i++) {
    const struct dev_hb_tag *t = &l->tags[i];
    dev_zcl_put_le(w, t->tag, 1);
    dev_zcl_put_le(w, t->type, 1);
    dev_zcl_put_num(w, t->type, t->k);
  }
  if (w->err)
    return;
  size_t n = w->len - at - 1;
  if (n > 254) {
    w->err = SIM_EINVAL;
    return;
  }
  w->p[at] = (uint8_t)n;
}
