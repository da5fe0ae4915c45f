#include "sim/loop/sched.h"

#include <errno.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "sim/core/err.h"

/* Arms the timerfd for the wheel's next deadline. timerfd_settime is a costly call here, and
 * this runs before every poll, so it re-arms only when the deadline moved earlier or the armed
 * one has fired: a deadline that moved later (its timer was cancelled) costs at most one early
 * wakeup, in which the wheel finds nothing due and the timer is armed again. */
static void rearm(struct sim_sched *s) {
  sim_time_t next = sim_wheel_next(&s->wheel);
  if (next != UINT64_MAX)
    next = (next + SIM_SCHED_GRID_US - 1) / SIM_SCHED_GRID_US * SIM_SCHED_GRID_US;
  if (s->early && sim_wheel_has_expired(&s->wheel)) {
    /* A timer added inside the window the last wakeup fired ahead of time is due by the wheel's
     * clock, which runs ahead of the real one: fire it at the next poll, not at the wheel's
     * time, which could be later than its own. */
    sim_time_t now = sim_clock_now(&s->clock);
    if (now < next)
      next = now;
  }
  if (next >= s->armed)
    return;
  struct itimerspec its = {0};
  if (next != UINT64_MAX) {
    uint64_t ns = s->clock.start_ns + next * 1000u;
    if (ns == 0)
      ns = 1; /* zero would disarm */
    its.it_value.tv_sec = (time_t)(ns / 1000000000u);
    its.it_value.tv_nsec = (long)(ns % 1000000000u);
  }
  timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
  s->armed = next;
}

static void on_prepare(uv_prepare_t *h) {
  struct sim_sched *s = h->data;
  rearm(s);
}

static void on_timerfd(uv_poll_t *h, int status, int events) {
  struct sim_sched *s = h->data;
  uint64_t expirations;
  ssize_t r = read(s->tfd, &expirations, sizeof(expirations));
  (void)r; /* EAGAIN when re-armed in between: nothing to do but advance */
  s->armed = UINT64_MAX;
  sim_wheel_advance(&s->wheel, sim_clock_now(&s->clock) + s->early);
}

int sim_sched_init(struct sim_sched *s, uv_loop_t *loop, int is_virtual, uint32_t cap,
                   sim_wheel_fire_cb fire, void *arg) {
  int rc;
  s->loop = loop;
  s->tfd = -1;
  s->armed = UINT64_MAX;
  s->open_handles = 0;
  s->close_cb = NULL;
  s->early = 0;
  sim_clock_init(&s->clock, is_virtual);
  rc = sim_wheel_init(&s->wheel, cap, 0, fire, arg);
  if (rc)
    return rc;
  if (is_virtual)
    return 0;
  s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (s->tfd < 0) {
    rc = -errno;
    goto fail;
  }
  rc = uv_poll_init(loop, &s->poll, s->tfd);
  if (rc)
    goto fail_fd;
  s->poll.data = s;
  s->open_handles++;
  uv_poll_start(&s->poll, UV_READABLE, on_timerfd);
  uv_prepare_init(loop, &s->prepare);
  s->prepare.data = s;
  s->open_handles++;
  uv_prepare_start(&s->prepare, on_prepare);
  return 0;
fail_fd:
  close(s->tfd);
  s->tfd = -1;
fail:
  sim_wheel_fini(&s->wheel);
  return rc;
}

void sim_sched_poll(struct sim_sched *s) {
  sim_wheel_advance(&s->wheel, sim_clock_now(&s->clock));
}

static void on_closed(uv_handle_t *h) {
  struct sim_sched *s = h->data;
  if (--s->open_handles == 0) {
    if (s->tfd >= 0)
      close(s->tfd);
    s->tfd = -1;
    if (s->close_cb)
      s->close_cb(s);
  }
}

void sim_sched_close(struct sim_sched *s, void (*close_cb)(struct sim_sched *s)) {
  sim_wheel_fini(&s->wheel);
  s->close_cb = close_cb;
  if (s->open_handles == 0) {
    if (close_cb)
      close_cb(s);
    return;
  }
  uv_close((uv_handle_t *)&s->poll, on_closed);
  uv_close((uv_handle_t *)&s->prepare, on_closed);
}
