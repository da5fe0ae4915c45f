/* Text on the render thread: strings drawn through SDL2_ttf, with a cache of rendered strings.
 *
 * Rendering a string's glyphs costs far more than copying its texture, and a steady screen draws
 * the same strings frame after frame: each (string, font, colour) is rendered once into a
 * texture kept in an open-addressed table (TC_PROBE slots from the string's hash; the least
 * recently drawn one gives way), and strings not drawn for a while are forgotten
 * (gui__text_age()). The fonts are opened at the renderer's scale (high-DPI: larger) and opened
 * again, emptying the cache, when the scale changes. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"
#include "sim/core/hash.h"
#include "ui/gui/gui_internal.h"

#define TC_SIZE 2048
#define TC_PROBE 8

struct gui_text_entry {
  uint64_t key;
  char s[GUI_TEXT_MAX];
  int font;
  uint32_t color;
  SDL_Texture *tex;
  int w, h;
  uint64_t used; /* r->frame when last drawn */
};

int gui__text_new(struct gui_render *r) {
  r->tc = calloc(TC_SIZE, sizeof *r->tc);
  return r->tc ? 0 : SIM_ENOMEM;
}

static void forget_all(struct gui_render *r) {
  for (int i = 0; i < TC_SIZE; i++)
    if (r->tc[i].tex) {
      SDL_DestroyTexture(r->tc[i].tex);
      r->tc[i].tex = NULL;
    }
}

void gui__text_free(struct gui_render *r) {
  if (r->tc) {
    forget_all(r);
    free(r->tc);
    r->tc = NULL;
  }
  for (int i = 0; i < GUI_FONT_N; i++)
    if (r->font[i]) {
      TTF_CloseFont(r->font[i]);
      r->font[i] = NULL;
    }
}

void gui__text_fonts(struct gui_render *r, double dpi) {
  int px = (int)lround(13 * dpi);
  if (px == r->font_px)
    return;
  static const double sizes[GUI_FONT_N] = {13, 11.5, 17};
  for (int i = 0; i < GUI_FONT_N; i++) {
    TTF_Font *nf = TTF_OpenFont(r->g->font_path, (int)lround(sizes[i] * dpi));
    if (!nf)
      continue;
    if (r->font[i])
      TTF_CloseFont(r->font[i]);
    r->font[i] = nf;
  }
  forget_all(r);
  r->font_px = px;
}

/* Forgets strings not drawn for a while (a log line scrolled away, an old value). */
void gui__text_age(struct gui_render *r) {
  if (r->frame % 64 != 0)
    return;
  for (int i = 0; i < TC_SIZE; i++)
    if (r->tc[i].tex && r->frame - r->tc[i].used > 256) {
      SDL_DestroyTexture(r->tc[i].tex);
      r->tc[i].tex = NULL;
    }
}

/* The texture of a string in a font and colour, from the cache or rendered now. Control bytes
 * (from a peer's error text in the log) become '?'. */
static struct gui_text_entry *text_tex(struct gui_render *r, int font, uint32_t color,
                                       const char *s) {
  char buf[GUI_TEXT_MAX];
  size_t n = 0;
  for (; s[n] && n < GUI_TEXT_MAX - 1; n++)
    buf[n] = (unsigned char)s[n] < 0x20 ? '?' : s[n];
  buf[n] = 0;
  if (n == 0)
    return NULL;
  /* FNV-1a of the string, its start salted with the font and colour. */
  uint64_t key = sim_hash_fnv64(SIM_HASH_FNV64_INIT ^ ((uint64_t)font << 32 | color), buf, n);
  size_t base = (size_t)(key % TC_SIZE);
  struct gui_text_entry *victim = NULL;
  for (int i = 0; i < TC_PROBE; i++) {
    struct gui_text_entry *e = &r->tc[(base + (size_t)i) % TC_SIZE];
    if (e->tex && e->key == key && e->font == font && e->color == color && strcmp(e->s, buf) == 0) {
      e->used = r->frame;
      return e;
    }
    if (!victim || !e->tex || (victim->tex && e->used < victim->used))
      victim = e;
  }
  if (victim->tex)
    SDL_DestroyTexture(victim->tex);
  memset(victim, 0, sizeof *victim);
  SDL_Color c = {(uint8_t)(color >> 16), (uint8_t)(color >> 8), (uint8_t)color, 255};
  SDL_Surface *sf = TTF_RenderUTF8_Blended(r->font[font], buf, c);
  if (!sf)
    return NULL;
  victim->tex = SDL_CreateTextureFromSurface(r->ren, sf);
  victim->w = sf->w;
  victim->h = sf->h;
  SDL_FreeSurface(sf);
  if (!victim->tex)
    return NULL;
  victim->key = key;
  victim->font = font;
  victim->color = color;
  memcpy(victim->s, buf, n + 1);
  victim->used = r->frame;
  return victim;
}

int gui__text(struct gui_render *r, int font, int x, int y, int maxw, uint32_t color,
              const char *s) {
  if (maxw <= 0)
    return 0;
  struct gui_text_entry *e = text_tex(r, font, color, s);
  if (!e)
    return 0;
  int w = e->w < maxw ? e->w : maxw;
  SDL_Rect src = {0, 0, w, e->h}, dst = {x, y, w, e->h};
  SDL_RenderCopy(r->ren, e->tex, &src, &dst);
  return w;
}

int gui__textf(struct gui_render *r, int font, int x, int y, int maxw, uint32_t color,
               const char *fmt, ...) {
  char buf[GUI_TEXT_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return gui__text(r, font, x, y, maxw, color, buf);
}

int gui__text_w(struct gui_render *r, int font, const char *s) {
  int w = 0, h = 0;
  if (TTF_SizeUTF8(r->font[font], s, &w, &h) != 0)
    return 0;
  return w;
}

int gui__line_h(const struct gui_render *r, int font) {
  return TTF_FontLineSkip(r->font[font]);
}
