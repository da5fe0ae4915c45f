/* Lazy sampling: a device wakes only when it has something to send.
 *
 * A sampled channel (walk, daylight, meter) samples every sample_s, and its attributes report on
 * change: most samples change nothing reportable, yet each cost a timer wakeup (the wheel, the
 * device record pulled into cache, the next wakeup worked out). Here the device still samples on
 * the same grid in its model, but the samples at which it sends nothing are computed, not woken
 * for:
 *
 * - Planning (dev__lazy_plan). After every wakeup the device's state is copied and stepped
 *   forward, one eager wakeup after another (dev__run_tick, dev__run_next: exactly what a device
 *   woken for every sample does), until one of them sends a frame or draws from the hub's
 *   generator (a heartbeat, a burst, a report, anything but sampling), or LAZY_AHEAD of them
 *   have been stepped. The timer is set there; the copy is thrown away. The real state keeps
 *   only the next eager instant, in sim_device.model_word.
 * - Catching up (dev__lazy_catch_up). When the device wakes, or when something reaches it (a
 *   command, a read, a trigger, a rejoin), the eager wakeups from that instant up to now are
 *   stepped again on the real state: the same function on the same state and the same instants,
 *   so the same values. What the platform reads or receives is what a device woken at every
 *   sample would have shown.
 *
 * This is exact because a sample draws its noise from a counter-based stream (dev_noise_*: a
 * function of the device's address, the channel and the instant), not from the hub's shared
 * generator, so a sample gives the same value whenever it is computed and draws nothing another
 * device would see, and the daily cycles read the time of the sample from device time (the
 * env's wall0_ms), not from the wall clock of the wakeup that computes it. A caller that gives
 * no wall0_ms (a test or a tool driving a model by hand) gets a device woken at every sample:
 * without that anchor a sample stepped later could see another hour of the day than its plan.
 * A stepped wakeup runs with a scratch generator and an emit that sends nothing, so a wakeup
 * that diverged from its plan (none does) still could not touch the hub. */
#include <string.h>

#include "devices/generic.h"
#include "devices/generic_internal.h"

/* Silent wakeups planned ahead at most: a device that sends nothing for this many samples
 * (half an hour at 30 s) still wakes, silently, and plans again. A plan cut short by a command
 * or a read is work thrown away, so it does not look much further than reports are apart. */
#define LAZY_AHEAD 64
/* Silent wakeups stepped at most in one catch-up: 22 days of 30 s samples, tens of
 * milliseconds of CPU. Only a device that left its hub (no timer) and rejoins weeks later has
 * more; it steps these and goes on from where it is, its older samples skipped. */
#define LAZY_CATCH_MAX (1L << 16)

static int lazy_on = 1;

void dev_generic_set_lazy(int on) {
  lazy_on = on != 0;
}

/* An environment that sends nothing and counts what it would have sent. The env is the first
 * member so that emit can recover the whole struct. */
struct quiet_env {
  struct sim_dev_env env;
  struct sim_rng rng; /* a copy of the hub's generator: draws leave the hub's alone */
  int sent;
};

static int quiet_emit(struct sim_dev_env *env, uint8_t endpoint, uint16_t cluster,
                      const uint8_t *zcl, size_t len) {
  (void)endpoint;
  (void)cluster;
  (void)zcl;
  (void)len;
  ((struct quiet_env *)env)->sent++;
  return 0;
}

static void quiet_init(struct quiet_env *q, const struct sim_dev_env *env) {
  q->env = *env;
  q->rng = *env->rng;
  q->env.rng = &q->rng;
  q->env.emit = quiet_emit;
  q->env.engine = NULL;
  q->sent = 0;
}

/* The environment of an eager wakeup at device ms e, seen from a call at device ms t. */
static void quiet_at(struct quiet_env *q, const struct sim_dev_env *env, dev_ms_t t, dev_ms_t e) {
  q->env.due = (sim_time_t)e * 1000u;
  q->env.now = q->env.due;
  q->env.wall_ms = env->wall_ms + e - t;
}

void dev__lazy_plan(struct dev__run *r, dev_ms_t eager, int look) {
  struct sim_dev_env *env = r->env;
  if (r->cm->sampled)
    r->d->model_word = eager ? dev__dl_put(r->t, eager) : DEV_T_NONE;
  if (!look || !eager || !r->cm->sampled || !lazy_on || !env->wall0_ms) {
    env->next = (sim_time_t)eager * 1000u;
    return;
  }
  struct sim_device copy = *r->d;
  struct quiet_env q;
  quiet_init(&q, env);
  dev_ms_t e = eager;
  for (int n = 0; n < LAZY_AHEAD; n++) {
    quiet_at(&q, env, r->t, e);
    struct dev__run s;
    dev__run_init(&s, r->m, &copy, &q.env);
    dev__run_tick(&s);
    if (q.sent || memcmp(&q.rng, env->rng, sizeof q.rng) != 0)
      break; /* this wakeup does more than sample: the device wakes for it */
    dev_ms_t next = dev__run_next(&s);
    if (!next)
      break;
    e = next;
  }
  env->next = (sim_time_t)e * 1000u;
}

void dev__lazy_catch_up(struct dev__run *r, int inclusive) {
  if (!r->cm->sampled || r->d->model_word == DEV_T_NONE)
    return;
  dev_ms_t e = dev__dl_get(r->t, r->d->model_word);
  if (e > r->t || (e == r->t && !inclusive))
    return;
  struct quiet_env q;
  quiet_init(&q, r->env);
  for (long n = 0; e && n < LAZY_CATCH_MAX && (e < r->t || (inclusive && e == r->t)); n++) {
    struct dev__run s;
    if (e == r->t) {
      /* The wakeup due at this very instant (maybe the planned one, which may send): it runs
       * as the timer would have, before the event; the event's new plan replaces the timer. */
      dev__run_init(&s, r->m, r->d, r->env);
    } else {
      quiet_at(&q, r->env, r->t, e);
      dev__run_init(&s, r->m, r->d, &q.env);
    }
    dev__run_tick(&s);
    e = dev__run_next(&s);
  }
  r->d->model_word = e ? dev__dl_put(r->t, e > r->t ? e : r->t) : DEV_T_NONE;
}
