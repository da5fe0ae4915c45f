/* A fleet: hubs with their devices, each hub holding one hubrpc session to a platform.
 *
 * Hubs and devices live in two compact arrays owned by the fleet; every device has one timer in
 * the scheduler's wheel (id = device index), every hub one more (id = n_devices + hub index),
 * and frames in the air (sim/fleet/radio.c) take the ids after those. No per-device allocation,
 * no per-device handle. A hub allocates its connection and frame reader (while connected) and
 * its queue of unacknowledged frames, given back above 512 B once all is acknowledged (so a hub
 * whose platform keeps up stays within it).
 *
 * Threading: one fleet per libuv loop; every call from that loop's thread. */
#ifndef SIM_FLEET_FLEET_H
#define SIM_FLEET_FLEET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sim/core/hist.h"
#include "sim/fleet/model.h"
#include "sim/loop/sched.h"
#include "sim/transport/transport.h"
#include "sim/wire/hubrpc.h"

#define SIM_FLEET_MAX_BIND 256
#define SIM_FLEET_MAX_MIX 32

struct sim_fleet_uplink; /* sim/fleet/uplink.h */

struct sim_fleet_config {
  uint32_t hubs; /* hubs of the whole fleet, over every shard */
  /* This process runs shard `shard` of `shards` (0 of 1: all of them). Its hubs are those whose
   * global index g has g % shards == shard; identities, random streams, source addresses and
   * start times follow g, so a hub is the same whatever the shard count. */
  uint32_t shard;
  uint32_t shards;
  uint32_t devices_per_hub;
  /* Model mix: model registry indices and relative weights; device slot j of every hub gets the
   * model that a seeded draw picks, so the mix is the same for every run with the same seed. */
  uint16_t mix_model[SIM_FLEET_MAX_MIX];
  double mix_weight[SIM_FLEET_MAX_MIX];
  size_t n_mix;
  uint64_t seed;
  char hub_prefix[32];    /* hub ids are prefix + 6-digit index: "hub-000001" */
  uint8_t fleet_key[128]; /* the key hub secrets derive from */
  /* 0: no fleet key; each hub authenticates with its TLS client certificate alone (an Auth
   * with an empty mac, docs/protocol.md section 6). */
  size_t fleet_key_len;
  struct sim_addr platform;
  struct sim_addr bind[SIM_FLEET_MAX_BIND]; /* source addresses, round robin by hub index */
  size_t n_bind;
  double ramp;        /* hubs started per second; 0 = all at once */
  uint32_t queue_max; /* sequenced frames a hub keeps (unacked + unsent) before dropping */
  /* Device time runs this many times faster than engine time (1 = real behaviour): a load
   * knob that keeps every device's pattern, compressed. Timestamps in frames stay real. */
  double speedup;
  /* Latency histograms skip samples whose intended time is before this engine time (a
   * warm-up: the start-up burst); every count still includes them. 0: none. */
  sim_time_t warmup;
  const char *hub_model;    /* announced in Hello; NULL: none (Hello's model is informative) */
  const char *hub_firmware; /* announced in Hello */
  /* The radio between devices and their hub (sim/fleet/radio.c). A device is 1..radio_hops
   * hops away (fixed per device); each hop takes radio_hop_delay (engine µs, real time: not
   * compressed by speedup) per attempt and fails with probability radio_loss, retried up to
   * SIM_RADIO_RETRIES times. All zero: frames reach the hub at once (no cost). */
  uint32_t radio_hops;
  sim_time_t radio_hop_delay;
  double radio_loss;
  /* How long (device time) the hub keeps a command for a sleepy device that polls only when it
   * transmits, before answering COMMAND_TIMEOUT. 0: one hour. */
  sim_time_t sleepy_hold;
  /* Frames and commands that can be in the air (radio delay, sleepy polls) at once, fleet-wide;
   * 0: max(1024, devices / 4). Beyond it, frames go through undelayed and commands time out,
   * both counted. */
  uint32_t air_slots;
  /* 1: the fleet's scheduler is virtual (a sim_vdriver moves it; the transport is mem) and
   * nonces and boot ids come from the seed, so the run repeats byte for byte. */
  int virtual_clock;
  /* Devices behind hub g (global index), at most devices_per_hub; NULL: devices_per_hub for
   * every hub. Slots beyond it stay empty (never join). Called once per hub at creation. */
  uint32_t (*devices_of_hub)(void *arg, uint32_t g);
  void *devices_arg;
  /* What the hubs speak (sim/fleet/uplink.h): NULL for hubrpc sessions over the transport, or
   * a driver (borrowed, with its argument; both outlive the fleet). */
  const struct sim_fleet_uplink *uplink;
  void *uplink_arg;
  /* The id of hub g (global index) into out (cap bytes); NULL: hub_prefix + 6 digits. For a
   * fleet whose hubs are named elsewhere (a replayed capture). */
  void (*hub_name)(void *arg, uint32_t g, char *out, size_t cap);
  void *hub_name_arg;
};

#define SIM_RADIO_RETRIES 3

/* Fills cfg with defaults: 10 hubs x 5 devices, prefix "hub-", ramp 0, queue_max 4096. */
void sim_fleet_config_default(struct sim_fleet_config *cfg);

enum sim_hub_state {
  SIM_HUB_IDLE = 0,   /* not started yet (ramp) */
  SIM_HUB_CONNECTING, /* TCP connect in progress */
  SIM_HUB_HANDSHAKE,  /* Hello sent, waiting for Challenge / Welcome */
  SIM_HUB_OPEN,       /* session open */
  SIM_HUB_BACKOFF,    /* waiting to reconnect */
  SIM_HUB_STOPPED,    /* stopped by the owner */
  SIM_HUB_NSTATES
};

/* Sequenced message kinds, counted separately. */
enum sim_seq_kind {
  SIM_SEQ_REPORT = 0,
  SIM_SEQ_JOINED,
  SIM_SEQ_LEFT,
  SIM_SEQ_RESULT,
  SIM_SEQ_NKINDS
};

struct sim_seq_counts {
  uint64_t generated; /* produced by devices / the hub */
  uint64_t dropped;   /* discarded because the hub's queue was full: never sent */
  uint64_t sent;      /* first transmissions */
  uint64_t resent;    /* retransmissions after a reconnect */
  uint64_t acked;     /* acknowledged by the platform (each message once) */
};

#define SIM_FLEET_MAX_REASONS 32
struct sim_reason_count {
  char name[40];
  uint64_t count;
};

/* A snapshot of the fleet's figures. Histograms are cumulative since start, in µs. */
struct sim_fleet_stats {
  sim_time_t now;
  uint32_t hubs;
  uint32_t devices;
  uint32_t hubs_by_state[SIM_HUB_NSTATES];
  struct sim_seq_counts kind[SIM_SEQ_NKINDS];
  uint64_t in_flight; /* sent, not yet acknowledged */
  uint64_t forgotten; /* acknowledged, then missing from the platform's Welcome: platform loss */
  uint64_t queued;    /* generated, not yet sent */
  uint64_t connects;  /* connection attempts */
  uint64_t sessions;  /* sessions that reached OPEN */
  uint32_t hubs_ever_online; /* hubs that opened a session at least once */
  sim_time_t all_online_at;  /* when the last of them first did (0: not yet) */
  uint64_t disconnects;
  uint64_t heartbeats_sent;
  uint64_t commands_received;
  uint64_t commands_ok;
  uint64_t commands_failed;
  uint64_t radio_lost;    /* device frames lost on the radio after every retry: never reported */
  uint64_t radio_retries; /* radio attempts that failed and were retried (both directions) */
  uint64_t cmds_held;     /* commands held for a sleepy device until it polled */
  uint64_t cmds_expired;  /* commands for a sleepy device that did not poll in time */
  uint64_t air_full;      /* frames or commands that found no air slot */
  uint64_t lost_power;    /* sequenced messages a hub held (unacked or unsent) when its power
                             was cut: gone with its memory, counted as lost */
  uint64_t power_cuts;
  /* Of lost_power, the messages that had been sent (in flight when the power went). */
  uint64_t lost_power_sent;
  /* Hubs the run itself holds off at the snapshot: power cut, or disconnected through the
   * control surface (sim_fleet_hub_disconnect) and not connected again. They are not expected
   * online, and what they hold (held_by_off_hubs: in flight + queued) is not expected acked. */
  uint32_t hubs_off_by_run;
  uint64_t held_by_off_hubs;
  uint64_t faults; /* faults injected (stalls, delays, malformed frames, drops, skews) */
  uint64_t frames_out;
  uint64_t frames_in;
  uint64_t bytes_out;
  uint64_t bytes_in;
  struct sim_hist ack_latency; /* report intended time -> its Ack (coordinated omission) */
  struct sim_hist send_lag;    /* report intended time -> first write */
  struct sim_hist handshake;   /* connect start -> Welcome */
  struct sim_hist tick_lag;    /* device timer intended time -> it ran: the generator's own lag */
  struct sim_reason_count errors[SIM_FLEET_MAX_REASONS];
  size_t n_errors;
};

struct sim_fleet;

/* Creates a fleet on loop using transport t (borrowed, must outlive the fleet). cfg is copied.
 * Devices join their hubs when the hub starts; reports queue until the session opens. */
int sim_fleet_new(uv_loop_t *loop, struct sim_transport *t, const struct sim_fleet_config *cfg,
                  struct sim_fleet **out);
/* Starts the hubs, paced by cfg->ramp. */
int sim_fleet_start(struct sim_fleet *f);
/* Stops generating: device timers are cancelled; sessions stay open so that in-flight
 * frames can still be acknowledged. */
void sim_fleet_quiesce(struct sim_fleet *f);
/* Closes every session (Goodbye) and stops the hubs; cb runs once everything is closed. */
void sim_fleet_stop(struct sim_fleet *f, void (*cb)(struct sim_fleet *f, void *arg), void *arg);
/* Frees a stopped fleet. */
void sim_fleet_free(struct sim_fleet *f);

/* Copies the current figures into out (about 70 KiB: give it heap or static storage). */
void sim_fleet_stats(const struct sim_fleet *f, struct sim_fleet_stats *out);
sim_time_t sim_fleet_now(const struct sim_fleet *f);
/* Adds the figures of src (another shard of the same fleet) into dst, exactly: counts add,
 * histograms merge bucket by bucket, errors merge by name. all_online_at is kept only when
 * both sides have every hub online (the later of the two times). */
void sim_fleet_stats_merge(struct sim_fleet_stats *dst, const struct sim_fleet_stats *src);
struct sim_sched *sim_fleet_sched(struct sim_fleet *f);
/* Writes what the hubs have queued now (what the loop does at the end of each turn); for the
 * virtual-clock driver's pump. Non-zero when some hub had something to write. */
int sim_fleet_flush(struct sim_fleet *f);

/* Identity helpers, stable for a given hub prefix: the same fleet gets the same ids. Hub
 * indices given to the fleet's functions are local to this shard (0 .. hubs in this process). */
void sim_fleet_hub_id(const struct sim_fleet *f, uint32_t hub, char *out, size_t cap);
/* The id of the hub of global index global (0..hubs-1 across every shard) of a fleet configured
 * by cfg, as sim_fleet_hub_id names it: for a process that runs no fleet of its own. */
void sim_fleet_config_hub_id(const struct sim_fleet_config *cfg, uint32_t global, char *out,
                             size_t cap);
uint64_t sim_fleet_device_eui64(const struct sim_fleet *f, uint32_t hub, uint32_t slot);
/* Triggers a named event on a device ("motion"...). SIM_ENOTFOUND without such event. */
int sim_fleet_trigger(struct sim_fleet *f, uint32_t hub, uint32_t slot, const char *event);
/* A device leaves its hub's network: its timer stops and the hub queues DeviceLeft. Commands
 * to it are answered COMMAND_UNKNOWN_DEVICE until it joins again. SIM_ENOTFOUND for a bad
 * index, SIM_EINVAL when it is not in the network. */
int sim_fleet_device_leave(struct sim_fleet *f, uint32_t hub, uint32_t slot);
/* The device joins again (DeviceJoined with rejoin = true, then what the model sends on
 * joining). SIM_EEXISTS when it is already in the network. */
int sim_fleet_device_join(struct sim_fleet *f, uint32_t hub, uint32_t slot);
/* Closes one hub's connection as a fault would (the hub reconnects with backoff). */
void sim_fleet_drop_hub(struct sim_fleet *f, uint32_t hub);

const char *sim_hub_state_name(enum sim_hub_state s);

/* ---- the control surface (scenarios, UIs) ------------------------------------------------ *
 * Hub and slot indices are local to this process's shard. Every call returns 0, SIM_ENOTFOUND
 * for a bad index, or SIM_EINVAL when the hub is in no state for it. */

uint32_t sim_fleet_hub_count(const struct sim_fleet *f);
/* The hub whose connections carry user as their user pointer (the transport's connect and
 * callbacks): 0 with *hub set, or SIM_ENOTFOUND when user is not one of f's hubs. A transport
 * that keeps something per hub (a client certificate) finds the hub with it. */
int sim_fleet_hub_of(const struct sim_fleet *f, const void *user, uint32_t *hub);
uint32_t sim_fleet_devices_per_hub(const struct sim_fleet *f);
enum sim_hub_state sim_fleet_hub_state(const struct sim_fleet *f, uint32_t hub);

struct sim_device_info {
  const struct sim_model *model; /* NULL for an empty slot */
  uint64_t eui64;
  int joined;
  uint8_t lqi;
  uint8_t activity;             /* frames sent, modulo 256: a change means the device reported */
  const struct sim_device *dev; /* the record itself (read only; e.g. dev_generic_value()) */
};
int sim_fleet_device_info(const struct sim_fleet *f, uint32_t hub, uint32_t slot,
                          struct sim_device_info *out);

/* Takes the hub offline: its session is closed (no Goodbye) and it stays off until
 * sim_fleet_hub_connect(). Its devices keep running and their frames queue. */
int sim_fleet_hub_disconnect(struct sim_fleet *f, uint32_t hub);
/* Connects an offline (or backing off) hub now. */
int sim_fleet_hub_connect(struct sim_fleet *f, uint32_t hub);
/* Power cut (on = 0): the hub and its devices go dark at once; the frames its queue held are
 * lost (stats.lost_power). Restore (on = 1): the hub boots again with a new boot id, its devices
 * rejoin (DeviceJoined with rejoin = true) and resume. */
int sim_fleet_hub_power(struct sim_fleet *f, uint32_t hub, int on);
/* The hub stops reading its connection for dur (what arrives waits; acks and commands are late),
 * then reads everything that arrived. */
int sim_fleet_hub_stall_reads(struct sim_fleet *f, uint32_t hub, sim_time_t dur);
/* For dur, every write of the hub leaves delay late. */
int sim_fleet_hub_delay_writes(struct sim_fleet *f, uint32_t hub, sim_time_t delay, sim_time_t dur);
/* The hub sends one malformed frame (a declared length above the limit); a platform must
 * answer with an Error and close, and the hub reconnects. */
int sim_fleet_hub_send_malformed(struct sim_fleet *f, uint32_t hub);
/* The hub's clock runs skew_ms off from now on: timestamps in its messages move by it. */
int sim_fleet_hub_skew_clock(struct sim_fleet *f, uint32_t hub, int64_t skew_ms);

/* Pauses (on = 1) or resumes device time: while paused no device timer fires (sessions,
 * heartbeats and commands go on); on resume every device's pending wakeup moves later by the
 * pause's length, so device behaviour continues where it stopped. SIM_EINVAL when already in
 * that state or quiesced. */
int sim_fleet_pause(struct sim_fleet *f, int on);
int sim_fleet_paused(const struct sim_fleet *f);

/* Observers for the control part (automation latency, UIs). report runs for every Report the
 * hub generates (intended: when the device sent it); command runs when a command reaches a
 * device (now: engine time), before the device acts. Either may be NULL. One set per fleet;
 * they run on the hot path, so they must be cheap. */
typedef void (*sim_report_observer)(void *arg, uint32_t hub, uint32_t slot, uint8_t endpoint,
                                    uint16_t cluster, const uint8_t *zcl, size_t len,
                                    sim_time_t intended);
typedef void (*sim_command_observer)(void *arg, uint32_t hub, uint32_t slot,
                                     const struct sim_dev_cmd *cmd, sim_time_t now);
void sim_fleet_observe(struct sim_fleet *f, sim_report_observer report,
                       sim_command_observer command, void *arg);

/* Observer of every frame a hub receives from the platform, after it was read and before the
 * hub acts on it (an Ack read by the fast path is handed over as an Ack Envelope too). env is
 * borrowed for the call. One per fleet; NULL removes it. */
typedef void (*sim_rx_observer)(void *arg, uint32_t hub, const sim_envelope *env);
void sim_fleet_observe_rx(struct sim_fleet *f, sim_rx_observer rx, void *arg);
/* Queues a sequenced message (Report, DeviceJoined, DeviceLeft, CommandResult) for hub as if
 * the hub had made it: its seq field is set to the hub's next one (written to *seq), and it is
 * sent, acknowledged and counted as the hub's own are. env stays the caller's (encoded here).
 * 0, SIM_ENOTFOUND (bad hub), SIM_EINVAL (not a sequenced message), or the enqueue error. */
int sim_fleet_hub_send(struct sim_fleet *f, uint32_t hub, sim_envelope *env, sim_time_t intended,
                       uint64_t *seq);

#endif
