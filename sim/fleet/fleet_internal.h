/* Internals of the fleet shared by its files: fleet.c (hub sessions, the queue of sequenced
 * frames, timers, lifecycle), hubdev.c (the devices behind each hub: their environment,
 * reports, join and leave, commands), radio.c (the air between devices and hub) and control.c
 * (power, faults, observers). Not an API: include only from sim/fleet/. */
#ifndef SIM_FLEET_FLEET_INTERNAL_H
#define SIM_FLEET_FLEET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sim/core/buf.h"
#include "sim/core/log.h"
#include "sim/fleet/fleet.h"
#include "sim/fleet/uplink.h"
#include "sim/wire/frame.h"
#include "sim/wire/hubrpc.h"

struct frame_meta {
  sim_time_t intended; /* when the device meant to send it */
  uint32_t len;        /* encoded frame length in the queue */
  uint8_t kind;        /* enum sim_seq_kind */
  uint8_t pad[3];
};

struct hub {
  struct sim_fleet *f;
  struct sim_conn *conn;
  uint32_t idx;
  uint8_t state;
  uint8_t fails; /* consecutive failed connects, for the backoff */
  uint8_t got_challenge;
  uint8_t dirty;       /* listed in f->dirty */
  uint8_t joined;      /* devices have joined (first start done) */
  uint8_t opened_once; /* a session has reached OPEN at least once */
  uint8_t drv_live;    /* an uplink driver's session is connecting or open */
  uint8_t pad;
  uint32_t max_window;
  uint32_t heartbeat_s;
  struct sim_rng rng;
  uint64_t boot_id;
  uint8_t client_nonce[SIM_HUBRPC_NONCE_LEN];
  uint64_t next_seq; /* next seq to assign */
  uint64_t acked;    /* every seq <= acked is acknowledged */
  uint64_t sent;     /* highest seq written in this session (acked when not open) */
  uint64_t max_sent; /* highest seq ever written: below it a write is a resend */
  size_t sent_bytes; /* bytes of frames acked+1..sent */
  struct sim_buf q;  /* frames acked+1 .. next_seq-1, from q_off */
  size_t q_off;
  struct frame_meta *meta; /* ring, one per queued frame */
  uint32_t meta_cap;
  uint32_t meta_head;
  sim_time_t last_rx;
  sim_time_t connect_start;
  struct sim_frame_reader rd;
  /* The control surface (control.c): faults and power. */
  uint32_t n_devs;        /* devices behind this hub (slots beyond are empty) */
  uint8_t offline;        /* disconnected on purpose: no reconnect until connected again */
  uint8_t powered_off;    /* power cut: hub and devices dark */
  uint8_t stalled;        /* not reading: what arrives waits in stash */
  uint8_t flush_pending;  /* a delayed flush is scheduled */
  int32_t skew_ms;        /* the hub's clock error, added to the timestamps it sends */
  sim_time_t write_delay; /* while now < delay_until, writes leave this late */
  sim_time_t delay_until;
  struct sim_buf stash; /* bytes received while stalled */
};

#define SIM_AIR_FRAME_MAX 128
struct air_slot;

struct sim_fleet {
  uv_loop_t *loop;
  struct sim_transport *t;
  struct sim_fleet_config cfg;
  struct sim_sched sched;
  uv_check_t check;
  struct hub *hubs;
  /* The platform's reason for refusing an authentication, printed at most once a second. */
  struct sim_log_limit auth_lim;
  struct sim_device *devs;
  uint32_t n_hubs;
  uint32_t n_devs;
  uint32_t prefix_hash;
  uint32_t *dirty;
  uint32_t n_dirty;
  uint32_t started; /* hubs started so far (ramp) */
  int quiesced;
  int stopping;
  int open_handles;
  void (*stop_cb)(struct sim_fleet *f, void *arg);
  void *stop_arg;
  struct sim_buf scratch;   /* unsequenced frames are encoded here, then sent */
  struct sim_rng nonce_rng; /* virtual clock: nonces and boot ids from the seed */
  int paused;
  sim_time_t paused_at;
  sim_report_observer obs_report;
  sim_command_observer obs_command;
  void *obs_arg;
  sim_rx_observer obs_rx;
  void *obs_rx_arg;
  struct air_slot *air; /* radio.c: frames and commands in the air (lazily allocated) */
  uint32_t *air_free;
  uint32_t n_air_free;
  uint32_t air_cap; /* timer ids n_devs + n_hubs .. + air_cap */
  struct sim_fleet_stats st;
};

struct emit_ctx {
  struct sim_fleet *f;
  struct hub *h;
  struct sim_device *d;
  sim_time_t due;  /* engine time of the wakeup */
  sim_time_t made; /* the intended time of what it emits: due, or now when it fired early */
};

static inline struct sim_device *dev_at(struct sim_fleet *f, const struct hub *h, uint32_t slot) {
  return &f->devs[(size_t)h->idx * f->cfg.devices_per_hub + slot];
}

static inline uint32_t queued_frames(const struct hub *h) {
  return (uint32_t)(h->next_seq - 1 - h->acked);
}

static inline struct frame_meta *meta_at(struct hub *h, uint64_t seq) {
  /* seq in acked+1 .. next_seq-1 */
  uint32_t i = (uint32_t)(seq - h->acked - 1);
  return &h->meta[(h->meta_head + i) % h->meta_cap];
}

/* A session is connecting or open: hubrpc's connection, or an uplink driver's. */
static inline int hub_live(const struct hub *h) {
  return h->conn != NULL || h->drv_live;
}

static inline uint32_t hub_timer(const struct sim_fleet *f, const struct hub *h) {
  return f->n_devs + h->idx;
}

/* The index of local hub idx in the whole fleet (over every shard). */
static inline uint32_t hub_global(const struct sim_fleet *f, uint32_t idx) {
  return idx * f->cfg.shards + f->cfg.shard;
}

/* fleet.c */
/* Counts one error under name (a reason from docs/summary.md). */
void sim__fleet_count_error(struct sim_fleet *f, const char *name);
/* Appends one sequenced message to the hub's queue; *seq_field (inside env) gets its seq.
 * 0, or SIM_EFULL / an encoding error: the message is dropped and counted. */
int sim__fleet_enqueue(struct sim_fleet *f, struct hub *h, sim_envelope *env, uint64_t *seq_field,
                       enum sim_seq_kind kind, sim_time_t intended);

/* hubdev.c */
/* The hub boots: its devices join its network (each announced), then it connects. */
void sim__fleet_hub_boot(struct sim_fleet *f, struct hub *h);
/* Timer id (a device index) fired at its intended time due. */
void sim__fleet_device_fire(struct sim_fleet *f, uint32_t id, sim_time_t due);
/* A Command from the platform: executed on the device, answered with a CommandResult. */
void sim__fleet_on_command(struct sim_fleet *f, struct hub *h, const Hubrpc__V1__Command *cmd);
/* Connects the hub (fleet.c; called by hub boot). */
void sim__fleet_hub_connect(struct sim_fleet *f, struct hub *h);
/* The hub received a device's frame: decodes it and queues the Report (intended: when the
 * device sent it). 0 or the enqueue error. */
int sim__fleet_report(struct sim_fleet *f, struct hub *h, uint32_t slot, uint64_t eui, uint8_t lqi,
                      uint8_t endpoint, uint16_t cluster, const uint8_t *zcl, size_t len,
                      uint64_t wall_ms, sim_time_t intended);
/* Executes a command on a device now and answers it; waited is how long it was held (radio,
 * sleepy poll) and counts into the reported latency. */
void sim__fleet_exec_command(struct sim_fleet *f, struct hub *h, uint32_t slot,
                             const struct sim_dev_cmd *dc, uint64_t cmd_id, uint64_t eui,
                             sim_time_t waited);
void sim__fleet_command_result(struct sim_fleet *f, struct hub *h, uint64_t cmd_id, uint64_t eui,
                               Hubrpc__V1__CommandStatus status, uint32_t zcl_status,
                               uint32_t latency_ms);

/* fleet.c, for control.c */
void sim__fleet_session_end(struct sim_fleet *f, struct hub *h, int reason, const char *what);
void sim__fleet_flush(struct sim_fleet *f, struct hub *h);
void sim__fleet_mark_dirty(struct sim_fleet *f, struct hub *h);
void sim__fleet_new_boot(struct sim_fleet *f, struct hub *h);
/* Feeds bytes the hub received (control.c replays a stall's stash through it). */
void sim__fleet_feed(struct sim_fleet *f, struct hub *h, const uint8_t *p, size_t n);

/* hubdev.c, for control.c */
/* Boots a hub whose devices had joined before (a power restore): they rejoin. */
void sim__fleet_hub_reboot(struct sim_fleet *f, struct hub *h);

/* control.c */
enum { SIM_HUB_EV_UNSTALL = 1, SIM_HUB_EV_FLUSH, SIM_HUB_EV_UNDELAY };
void sim__fleet_hub_event(struct sim_fleet *f, struct hub *h, int what);

/* radio.c */
/* Runs sim__fleet_hub_event(f, hub, what) at engine time at (an air slot). 0 or SIM_EFULL. */
int sim__radio_hub_timer(struct sim_fleet *f, uint32_t hub, int what, sim_time_t at);
int sim__radio_enabled(const struct sim_fleet *f);
/* Air slots for a fleet of n_devs devices. */
uint32_t sim__radio_slots(const struct sim_fleet_config *cfg, uint32_t n_devs);
/* A device's frame crosses the air to its hub (possibly later, possibly lost). */
int sim__radio_uplink(struct sim_fleet *f, struct hub *h, uint32_t dev_slot, uint64_t eui,
                      uint8_t lqi, uint8_t endpoint, uint16_t cluster, const uint8_t *zcl,
                      size_t len, uint64_t wall_ms, sim_time_t intended);
/* A command on its way to a device: 1 when the radio took it (it is executed or answered
 * later), 0 when it is to be executed at once. */
int sim__radio_downlink(struct sim_fleet *f, struct hub *h, uint32_t dev_slot,
                        const struct sim_dev_cmd *dc, uint64_t cmd_id, uint64_t eui);
/* Air slot i's timer fired. */
void sim__radio_fire(struct sim_fleet *f, uint32_t i);
/* Delivers everything in the air now (end of run). */
void sim__radio_flush(struct sim_fleet *f);
void sim__radio_free(struct sim_fleet *f);

#endif
