/* Screenshots on the render thread: the frame just drawn is read back (SDL_RenderReadPixels)
 * and written as a PNG (SDL2_image) through the crash-safe writer of sim/core/wfile.h. Two kinds
 * are due: one asked for with ui_gui_screenshot() (after a frame of a snapshot newer than the
 * request), and the options' --screenshot once engine time reaches its mark (then, with
 * exit_after_screenshot, the run is asked to end). */
#include <stdio.h>

#include <SDL_image.h>

#include "sim/core/err.h"
#include "sim/core/wfile.h"
#include "ui/gui/gui_internal.h"

/* Writes the frame being drawn as a PNG through sim_wfile (a new temporary file created
 * exclusively, never through a link, then renamed), so a reader never sees a half-written file. */
static int write_png(struct gui_render *r, const char *path) {
  SDL_Surface *sf =
      SDL_CreateRGBSurfaceWithFormat(0, r->out_w, r->out_h, 32, SDL_PIXELFORMAT_ARGB8888);
  if (!sf)
    return SIM_ENOMEM;
  struct sim_wfile w;
  int rc = sim_wfile_open(&w, path);
  if (rc) {
    fprintf(stderr, "hubsim gui: screenshot '%s': %s\n", path, sim_strerror(rc));
    SDL_FreeSurface(sf);
    return rc;
  }
  /* The stream stays the writer's: SDL frees its RWops (freedst) without closing the file. */
  SDL_RWops *rw = SDL_RWFromFP(w.fp, SDL_FALSE);
  int ok = rw &&
           SDL_RenderReadPixels(r->ren, NULL, SDL_PIXELFORMAT_ARGB8888, sf->pixels, sf->pitch) == 0;
  if (ok)
    ok = IMG_SavePNG_RW(sf, rw, 1) == 0;
  else if (rw)
    SDL_RWclose(rw);
  if (!ok) {
    fprintf(stderr, "hubsim gui: screenshot '%s': %s\n", path, SDL_GetError());
    rc = SIM_EIO;
    sim_wfile_abort(&w);
  } else {
    rc = sim_wfile_commit(&w);
  }
  SDL_FreeSurface(sf);
  return rc;
}

/* A screenshot is due with this snapshot: the frame must be drawn to be read back. */
int gui__shot_due(struct gui_render *r) {
  struct ui_gui *g = r->g;
  pthread_mutex_lock(&g->mu);
  int due = g->shot_pending && r->fs->seq > g->shot_after_seq;
  pthread_mutex_unlock(&g->mu);
  return due || (g->o.screenshot_path && !r->opt_shot_done &&
                 r->fs->hd.elapsed_s >= g->o.screenshot_after_s);
}

void gui__shots(struct gui_render *r) {
  struct ui_gui *g = r->g;
  char path[512] = "";
  pthread_mutex_lock(&g->mu);
  if (g->shot_pending && r->fs->seq > g->shot_after_seq)
    snprintf(path, sizeof path, "%s", g->shot_path);
  pthread_mutex_unlock(&g->mu);
  if (path[0]) {
    int rc = write_png(r, path);
    pthread_mutex_lock(&g->mu);
    g->shot_pending = 0;
    g->info.screenshots++;
    g->info.screenshot_rc = rc;
    pthread_mutex_unlock(&g->mu);
  }
  if (g->o.screenshot_path && !r->opt_shot_done && r->fs->hd.elapsed_s >= g->o.screenshot_after_s) {
    r->opt_shot_done = 1;
    int rc = write_png(r, g->o.screenshot_path);
    pthread_mutex_lock(&g->mu);
    g->info.screenshots++;
    g->info.screenshot_rc = rc;
    pthread_mutex_unlock(&g->mu);
    if (g->o.exit_after_screenshot)
      gui__quit(r);
  }
}
