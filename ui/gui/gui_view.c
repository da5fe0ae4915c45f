/* The map's view on the render thread: hubs sit on a grid of square cells (GUI_CELL world units
 * each) sized to the map's shape, each ringed by its devices; the view is a scale (pixels per
 * world unit) and the world point at the map's top-left. Zooming, panning, fitting, and finding
 * the hub or device under a pixel all work on that transform. */
#include <math.h>
#include <stdint.h>

#include "ui/gui/gui_internal.h"

/* About as many columns as the map's aspect asks for, so that cells stay square. */
void gui__view_grid(struct gui_render *r) {
  uint32_t n = r->fs->n_hubs;
  double aspect = r->map.h > 0 ? (double)r->map.w / r->map.h : 1.5;
  uint32_t cols = n ? (uint32_t)ceil(sqrt((double)n * aspect)) : 1;
  if (cols < 1)
    cols = 1;
  if (cols > n && n)
    cols = n;
  r->cols = cols;
  r->rows = n ? (n + cols - 1) / cols : 1;
}

void gui__view_fit(struct gui_render *r) {
  gui__view_grid(r);
  double ww = r->cols * GUI_CELL, wh = r->rows * GUI_CELL;
  double s = fmin(r->map.w / ww, r->map.h / wh) * 0.96;
  if (s > 3.0 * r->dpi)
    s = 3.0 * r->dpi; /* three hubs do not fill a whole screen */
  r->scale = s;
  r->ox = ww / 2 - r->map.w / 2.0 / s;
  r->oy = wh / 2 - r->map.h / 2.0 / s;
  r->fitted = 1;
}

void gui__view_zoom(struct gui_render *r, double new_scale, double sx, double sy) {
  double lo = 0.5 / GUI_CELL, hi = 600 * r->dpi / GUI_CELL;
  if (new_scale < lo)
    new_scale = lo;
  if (new_scale > hi)
    new_scale = hi;
  double wx = r->ox + sx / r->scale, wy = r->oy + sy / r->scale;
  r->scale = new_scale;
  r->ox = wx - sx / new_scale;
  r->oy = wy - sy / new_scale;
  r->fitted = 0;
}

void gui__view_center(struct gui_render *r, uint32_t hub) {
  double wx = (hub % r->cols + 0.5) * GUI_CELL, wy = (hub / r->cols + 0.5) * GUI_CELL;
  r->ox = wx - r->map.w / 2.0 / r->scale;
  r->oy = wy - r->map.h / 2.0 / r->scale;
  r->fitted = 0;
}

int gui__view_level(const struct gui_render *r) {
  double cs = GUI_CELL * r->scale;
  return cs < 14 ? 0 : cs < 180 ? 1 : 2;
}

double gui__view_dot_radius(uint32_t dph) {
  double rr = GUI_CELL * 0.34;
  double d = dph ? M_PI * rr / dph * 0.8 : 6;
  return d > GUI_CELL * 0.07 ? GUI_CELL * 0.07 : d;
}

/* A device's place on its hub's ring: the slot's direction comes from a table made once. */
void gui__view_dev_pos(const struct gui_render *r, uint32_t hub, uint32_t slot, double *x,
                       double *y) {
  double wx = (hub % r->cols + 0.5) * GUI_CELL, wy = (hub / r->cols + 0.5) * GUI_CELL;
  wx += r->slot_dir[2 * slot] * GUI_CELL * 0.34;
  wy += r->slot_dir[2 * slot + 1] * GUI_CELL * 0.34;
  *x = (wx - r->ox) * r->scale;
  *y = (wy - r->oy) * r->scale;
}

/* Near the ring of a hub's cell, the nearest slot's angle names the device; elsewhere in the
 * cell it is the hub. */
int gui__view_hit(const struct gui_render *r, int x, int y, int64_t *hub, int64_t *slot) {
  const struct gui_snap *s = r->fs;
  if (x < r->map.x || y < r->map.y || x >= r->map.x + r->map.w || y >= r->map.y + r->map.h ||
      !s->n_hubs)
    return 0;
  double wx = r->ox + (x - r->map.x) / r->scale, wy = r->oy + (y - r->map.y) / r->scale;
  if (wx < 0 || wy < 0)
    return 0;
  uint64_t col = (uint64_t)(wx / GUI_CELL), row = (uint64_t)(wy / GUI_CELL);
  if (col >= r->cols)
    return 0;
  uint64_t h = row * r->cols + col;
  if (h >= s->n_hubs)
    return 0;
  *hub = (int64_t)h;
  *slot = -1;
  if (r->level == 0)
    return 1;
  double dx = wx - (col + 0.5) * GUI_CELL, dy = wy - (row + 0.5) * GUI_CELL;
  double d = sqrt(dx * dx + dy * dy);
  double dr = gui__view_dot_radius(s->dph);
  double tol = fmax(dr * 1.6, 4 / r->scale);
  if (s->dph && fabs(d - GUI_CELL * 0.34) <= tol) {
    double a = atan2(dy, dx) + M_PI / 2;
    if (a < 0)
      a += 2 * M_PI;
    uint32_t k = (uint32_t)lround(a / (2 * M_PI / s->dph)) % s->dph;
    double px, py;
    const struct gui_dev *e = &s->dev[h * s->dph + k];
    gui__view_dev_pos(r, (uint32_t)h, k, &px, &py);
    double ex = px - (x - r->map.x), ey = py - (y - r->map.y);
    if ((e->flags & GUI_DEV_PRESENT) && sqrt(ex * ex + ey * ey) <= tol * r->scale) {
      *slot = k;
      return 1;
    }
  }
  return d <= GUI_CELL * 0.5 ? 1 : 0;
}
