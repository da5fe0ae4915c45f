/* An emulated Z-Stack 3.x.0 ZNP coordinator: the radio a Zigbee host (zigbee-herdsman's zstack
 * adapter, hence zigbee2mqtt) drives over MT/UNPI. Bytes from the host go in through
 * sim_znp_coord_input(); every answer and indication goes out through the send callback, in
 * the order real firmware sends them (an SRSP before the AREQs it causes).
 *
 * What it serves: version and ping, NV items (OSAL NV read/write/init/delete/length, persisted
 * through sim/znp/nv), reset with the startup options, network formation by BDB commissioning
 * or ZDO_STARTUP_FROM_APP (restored from NV when the NIB is there), AF endpoint registration,
 * the coordinator's own ZDO descriptors, groups, permit join. A command it does not serve is
 * answered as Z-Stack answers one: an SRSP RPC error naming the command, logged once.
 *
 * Ownership: the caller owns struct sim_znp_coord (large: allocate it on the heap);
 * sim_znp_coord_fini() releases what init took. One thread; no I/O except the NV file. */
#ifndef SIM_ZNP_COORD_H
#define SIM_ZNP_COORD_H

#include <stddef.h>
#include <stdint.h>

#include "sim/core/log.h"
#include "sim/core/rng.h"
#include "sim/fleet/model.h"
#include "sim/znp/mt.h"
#include "sim/znp/nv.h"
#include "sim/znp/unpi.h"

/* NV item ids (Z-Stack's ZCD_NV_*) the coordinator itself reads or writes. */
enum {
  SIM_ZNP_NV_EXTADDR = 0x0001,
  SIM_ZNP_NV_STARTUP_OPTION = 0x0003,
  SIM_ZNP_NV_NIB = 0x0021,
  SIM_ZNP_NV_EXTENDED_PAN_ID = 0x002D,
  SIM_ZNP_NV_NWK_ACTIVE_KEY_INFO = 0x003A,
  SIM_ZNP_NV_NWK_ALTERN_KEY_INFO = 0x003B,
  SIM_ZNP_NV_HAS_CONFIGURED = 0x0060,
  SIM_ZNP_NV_PRECFGKEY = 0x0062,
  SIM_ZNP_NV_PRECFGKEYS_ENABLE = 0x0063,
  SIM_ZNP_NV_NWKKEY = 0x0082,
  SIM_ZNP_NV_PANID = 0x0083,
  SIM_ZNP_NV_CHANLIST = 0x0084,
  SIM_ZNP_NV_LOGICAL_TYPE = 0x0087,
  SIM_ZNP_NV_ZDO_DIRECT_CB = 0x008F,
  SIM_ZNP_NV_TCLK_SEED = 0x0101,
  SIM_ZNP_NV_APS_LINK_KEY_TABLE = 0x004C, /* the security manager table, a legacy item */
};

/* The extended tables of Z-Stack 3.x.0 (system ZSTACK, one entry per sub id) that hold the
 * network's devices, with the capacities this coordinator has (a Z-Stack build sets them with
 * NWK_MAX_ADDRESSES, ZDSECMGR_TC_DEVICE_MAX, ZDSECMGR_ENTRIES and
 * MAX_NWK_SEC_MATERIAL_TABLE_ENTRIES). Every entry of a table exists; an entry never written
 * reads as Z-Stack's empty one. */
#define SIM_ZNP_NV_SYS_ZSTACK 1
enum {
  SIM_ZNP_NVX_LEGACY = 0x0000, /* sub id: a legacy item's id */
  SIM_ZNP_NVX_ADDRMGR = 0x0001,
  SIM_ZNP_NVX_TCLK_TABLE = 0x0004,
  SIM_ZNP_NVX_APS_KEY_DATA_TABLE = 0x0006,
  SIM_ZNP_NVX_NWK_SEC_MATERIAL_TABLE = 0x0007,
};
#define SIM_ZNP_ADDRMGR_CAP 256 /* address manager entries: user, network and IEEE address */
#define SIM_ZNP_TCLK_CAP 256    /* trust-centre link key entries of joined devices */
#define SIM_ZNP_APS_KEY_CAP 50  /* APS link key data entries and security manager entries */
#define SIM_ZNP_SEC_MATERIAL_CAP 5

/* Size of the NIB this coordinator keeps: Z-Stack's nwkIB_t packed (no alignment), which is
 * what a host assumes when NWKKEY is 21 bytes long (zigbee-herdsman: adapter-nv-memory.ts). */
#define SIM_ZNP_NIB_LEN 110
#define SIM_ZNP_NWKKEY_LEN 21 /* key sequence number, key, frame counter */

#define SIM_ZNP_MAX_EPS 32
#define SIM_ZNP_MAX_GROUPS 64
#define SIM_ZNP_MAX_DEVICES 4096    /* joined devices of one coordinator */
#define SIM_ZNP_MAX_DROP_PENDING 64 /* sim_znp_coord_ctl_drop_zdo for devices not joined yet */

/* The steps of a device's joining after the coordinator's ZDO_TC_DEV_IND, each join_delay_ms
 * after the one before (sim_znp_coord). */
enum { SIM_ZNP_JOIN_DONE = 0, SIM_ZNP_JOIN_FRAMES = 1, SIM_ZNP_JOIN_ANNOUNCE = 2 };

/* A device that joined the coordinator's network, described by its model (the endpoints,
 * logical type, power source and manufacturer code of sim/fleet/model.h) and run by the
 * model's behaviour (its ops) on its own device record. */
struct sim_znp_dev {
  uint64_t ieee;
  uint16_t nwk;
  const struct sim_model *model; /* borrowed: the registry outlives the coordinator */
  struct sim_device sd;          /* the behaviour's state */
  sim_time_t next;               /* the behaviour's next wakeup, device time (µs); 0: none */
  sim_time_t join_at;            /* when the pending step of its joining comes (device time) */
  uint8_t join_pending;          /* SIM_ZNP_JOIN_*: what of its joining is still to come */
  uint8_t rejoin;                /* ... as a rejoin */
  uint64_t lost_until_ms;        /* out of range until then (sim_znp_coord_ctl_link_loss) */
  uint32_t drop_zdo;             /* ZDO requests it leaves unanswered yet */
  sim_time_t awake_until;        /* a sleepy device polls its parent fast until then (µs) */
  sim_time_t pairing_until;      /* ... and is being paired (its join window) until then */
};

/* Sends n bytes to the host. 0 or a negative error (counted; the coordinator goes on). */
typedef int (*sim_znp_send_fn)(void *ctx, const uint8_t *p, size_t n);

struct sim_znp_stats {
  uint64_t frames_in, frames_out;
  uint64_t bad_frames;  /* refused by the reader: bad FCS or length */
  uint64_t unsupported; /* answered with an RPC error: unknown subsystem or command */
  uint64_t malformed;   /* a known command with a short or inconsistent payload */
  uint64_t send_errors, nv_errors;
  uint64_t device_frames_dropped; /* device frames too large for one AF_INCOMING_MSG */
  uint64_t device_frames_lost;    /* device frames sent out of range or while the network was
                                   * down (sim_znp_coord_ctl_*) */
  uint64_t table_full;            /* joined devices the NV address manager table had no room for */
  /* The radio (coord_radio.c): device frames lost after every retry (never reached the host),
   * host frames to devices lost so (confirmed MAC_NO_ACK), attempts retried (both ways), frames
   * held for a sleepy device until it polled, held frames that expired (confirmed
   * MAC_TRANSACTION_EXPIRED), and frames the full air queue sent undelayed or refused. */
  uint64_t radio_lost, radio_lost_host, radio_retries, sleepy_held, sleepy_expired, air_full;
};

/* The radio between the coordinator and its devices, as between hubrpc hubs and theirs
 * (sim/fleet/radio.c): a device is 1..hops hops away, fixed by its IEEE address; each hop takes
 * hop_delay per attempt and fails with probability loss, retried SIM_RADIO_RETRIES times. A
 * sleepy device (sim_model.sleepy) is reached indirectly: the coordinator holds a frame for it
 * until it polls, which it does every pairing_poll_ms for awake_join_ms after it joins, every
 * awake_poll_ms for awake_tx_ms after each frame it sends, else only when it next transmits or at
 * its model's poll period (poll_ms), for at most sleepy_hold_ms. All zero (the default): frames
 * cross at once and sleepy devices answer at once. */
struct sim_znp_radio {
  uint32_t hops;
  sim_time_t hop_delay; /* µs */
  double loss;          /* 0 .. 0.99 */
  uint32_t sleepy_hold_ms;
  uint32_t awake_join_ms, awake_tx_ms, awake_poll_ms;
  /* How soon a frame reaches a sleepy device in its join window; 0: at once, as a device held
   * awake while it is paired (docs/hil.md says why that is the default). */
  uint32_t pairing_poll_ms;
};
/* The defaults of `hubsim znp` for a sleepy device: Z-Stack's MAC transaction persistence time
 * (500 unit periods of 15.36 ms), and the awake windows docs/hil.md explains. */
#define SIM_ZNP_SLEEPY_HOLD_MS 7680
#define SIM_ZNP_AWAKE_JOIN_MS 30000
#define SIM_ZNP_AWAKE_TX_MS 1000
#define SIM_ZNP_AWAKE_POLL_MS 100
/* Frames that can wait in one coordinator's air at once; beyond it a device frame crosses
 * undelayed and a host frame is refused (MAC_TRANSACTION_OVERFLOW), both counted (air_full). */
#define SIM_ZNP_AIR_MAX 4096
struct sim__znp_air;

/* Sees every ZCL frame a joined device d sends (an observer: a state dump, a recorder). */
typedef void (*sim_znp_dev_frame_fn)(void *ctx, const struct sim_znp_dev *d, uint8_t ep,
                                     uint16_t cluster, const uint8_t *zcl, size_t len);

struct sim_znp_coord {
  struct sim_znp_nv nv;
  struct sim_znp_reader rd;
  sim_znp_send_fn send;
  void *send_ctx;
  struct sim_znp_version version;
  uint64_t ieee;
  uint8_t state;   /* SIM_ZNP_DEV_* */
  uint32_t starts; /* times the network came up: devices to bring back from NV (resume) */
  uint32_t bdb_primary, bdb_secondary; /* channel masks of APP_CNF_BDB_SET_CHANNEL */
  size_t neps;
  struct sim_znp_ep eps[SIM_ZNP_MAX_EPS]; /* AF registrations: gone at reset, as in Z-Stack */
  size_t ngroups;
  struct {
    uint8_t ep;
    uint16_t group;
  } groups[SIM_ZNP_MAX_GROUPS];
  struct sim_znp_dev *devs; /* joined devices, in join order (heap) */
  struct sim_rng rng;       /* the devices' behaviour */
  size_t ndevs, cap_devs;
  int permit_forever;
  uint64_t permit_until_ms; /* joining allowed while now < this */
  uint64_t now_ms;          /* the time of the input being handled */
  uint8_t logged[32][32];   /* (subsystem, command) pairs already logged as unsupported */
  struct sim_log_limit bad_log;
  struct sim_znp_stats stats;
  /* A joining device announces itself this long after the coordinator's ZDO_TC_DEV_IND, and
   * sends its first frames this long after its announcement (0: all in the same instant). Over
   * the air each follows the other by some milliseconds (the key transport, the announcement's
   * broadcast), and a host that learns of the device from the first expects them to. */
  uint32_t join_delay_ms;
  /* Interview failures asked for devices that have not joined yet (sim_znp_coord_ctl_drop_zdo):
   * taken over by the device at its first ZDO request. */
  size_t ndrop_pending;
  struct {
    uint64_t ieee;
    uint32_t n;
  } drop_pending[SIM_ZNP_MAX_DROP_PENDING];
  sim_znp_dev_frame_fn on_dev_frame; /* NULL: none; set by the owner after init */
  void *on_dev_frame_ctx;
  struct sim_znp_radio radio; /* set by sim_znp_coord_set_radio() */
  struct sim_rng radio_rng;   /* the radio's losses, apart from the devices' behaviour */
  struct sim__znp_air *air;   /* frames in the air or held (coord_radio.c; heap, lazily) */
  size_t nair, cap_air;
};

/* Opens the NV file nv_path (NULL: memory only), gives a fresh NV the items of a factory-new
 * Z-Stack 3.x.0 image (a random IEEE address under TI's 00:12:4b prefix, no network) and saves
 * it. SIM_E* with a sentence in why (cap bytes) when the file is malformed or cannot be
 * written. */
int sim_znp_coord_init(struct sim_znp_coord *c, const char *nv_path, sim_znp_send_fn send,
                       void *ctx, char *why, size_t cap);
void sim_znp_coord_fini(struct sim_znp_coord *c);

/* Feeds n bytes from the host, at now_ms (monotonic milliseconds), and answers every whole
 * frame. Never fails on any input: bad frames are counted and logged (rate-limited). */
void sim_znp_coord_input(struct sim_znp_coord *c, const uint8_t *p, size_t n, uint64_t now_ms);
/* A new host connection: the partial frame of the previous one is dropped; the network, NV and
 * registrations stay (a serial line reopened does not reset the radio). */
void sim_znp_coord_reconnect(struct sim_znp_coord *c);
/* Whether joining is permitted at now_ms. */
int sim_znp_coord_permit_open(const struct sim_znp_coord *c, uint64_t now_ms);

/* A device of model m with address ieee joins at now_ms, as a Z-Stack coordinator reports it:
 * ZDO_TC_DEV_IND, then the device's announcement (ZDO_END_DEVICE_ANNCE_IND); from then on the
 * coordinator answers node, active endpoint and simple descriptor requests for it from m. A
 * device that joined before rejoins with its address and announces again. 0 and its network
 * address in *nwk (NULL: not wanted); SIM_EUNEXPECTED when no network runs or joining is not
 * permitted, SIM_EFULL at SIM_ZNP_MAX_DEVICES, SIM_ENOMEM. */
int sim_znp_coord_join(struct sim_znp_coord *c, const struct sim_model *m, uint64_t ieee,
                       uint64_t now_ms, uint16_t *nwk);
/* Runs the behaviour of every joined device whose wakeup is due at now_ms (monotonic
 * milliseconds, the clock of sim_znp_coord_input): its periodic reports, heartbeats and
 * attribute reports, and the end of a command's actuation, reach the host as AF_INCOMING_MSG.
 * A device late by several wakeups catches up with at most SIM_ZNP_TICK_CATCH_UP of them. */
#define SIM_ZNP_TICK_CATCH_UP 64
void sim_znp_coord_tick(struct sim_znp_coord *c, uint64_t now_ms);
/* The earliest wakeup of a joined device in monotonic milliseconds (rounded up), or
 * UINT64_MAX when none is due: when to call sim_znp_coord_tick() next. */
uint64_t sim_znp_coord_next_due(const struct sim_znp_coord *c);
/* A device of model m with address ieee that joined this network before (the NV address
 * manager table lists it, as after a restart of the coordinator or a restored backup) is in
 * the network again at now_ms without joining: no indication, no announcement; its behaviour
 * starts join_delay_ms later as after a rejoin. 0 (also when it is in the network already);
 * SIM_ENOTFOUND when the table does not list it, SIM_EUNEXPECTED when no network runs,
 * SIM_EFULL, SIM_ENOMEM. */
int sim_znp_coord_resume(struct sim_znp_coord *c, const struct sim_model *m, uint64_t ieee,
                         uint64_t now_ms);
/* Sets the radio between the coordinator and its devices (see struct sim_znp_radio) and seeds
 * its losses from the coordinator's IEEE address (the same every run). Before devices join. */
void sim_znp_coord_set_radio(struct sim_znp_coord *c, const struct sim_znp_radio *r);
/* The joined device with network address nwk, or NULL. Borrowed until the next join. */
const struct sim_znp_dev *sim_znp_coord_device(const struct sim_znp_coord *c, uint16_t nwk);

/* ---- Control of the radio side (coord_ctl.c), for scenario scripts: what happens on the air
 * or to the radio itself, not what the host asks. Each takes now_ms, the clock of
 * sim_znp_coord_input(). */

/* The radio opens its network for seconds (1 to 254), as a permit-join button on the radio
 * does, independently of the host's requests: ZDO_PERMIT_JOIN_IND with the time. seconds 0
 * closes it (ZDO_PERMIT_JOIN_IND 0). SIM_EUNEXPECTED when no network runs. */
int sim_znp_coord_ctl_permit(struct sim_znp_coord *c, unsigned seconds, uint64_t now_ms);
/* The joined device with IEEE address ieee, or NULL. Borrowed until the next join or leave. */
const struct sim_znp_dev *sim_znp_coord_device_ieee(const struct sim_znp_coord *c, uint64_t ieee);
/* Device ieee leaves on its own: ZDO_LEAVE_IND (its addresses, request 0, remove children 0,
 * rejoin 0), and the coordinator forgets it. SIM_ENOTFOUND when it has not joined. */
int sim_znp_coord_ctl_leave(struct sim_znp_coord *c, uint64_t ieee, uint64_t now_ms);
/* Joined device ieee rejoins (a trust-centre rejoin: it is known, so no permit is needed):
 * ZDO_TC_DEV_IND, then its announcement, as sim_znp_coord_join() reports a rejoin.
 * SIM_ENOTFOUND when it has not joined, SIM_EUNEXPECTED when no network runs. */
int sim_znp_coord_ctl_rejoin(struct sim_znp_coord *c, uint64_t ieee, uint64_t now_ms);
/* Device ieee is out of range until until_ms: its frames never reach the host, the host's data
 * requests to it fail (AF_DATA_CONFIRM MAC_NO_ACK) and its ZDO requests go unanswered. It keeps
 * its parent (an Aqara end device does not look for another) and reports again afterwards.
 * SIM_ENOTFOUND when it has not joined. */
int sim_znp_coord_ctl_link_loss(struct sim_znp_coord *c, uint64_t ieee, uint64_t until_ms);
/* Device ieee leaves its next n node, active endpoint and simple descriptor requests
 * unanswered (the SRSP is success; no answer comes), as a device in bad range fails a host's
 * interview. A device that has not joined yet takes the count over when it joins; SIM_EFULL
 * past SIM_ZNP_MAX_DROP_PENDING such devices. */
int sim_znp_coord_ctl_drop_zdo(struct sim_znp_coord *c, uint64_t ieee, uint32_t n);
/* The radio resets on its own, as after a watchdog or a power glitch: SYS_RESET_IND with reason
 * (0 power-up, 2 watchdog); what lives in RAM goes (the network stops until the host starts it
 * again, AF registrations, groups, the permit-join window), as on a SYS_RESET_REQ; the startup
 * options are not acted on, NV stays and so do the joined devices. */
void sim_znp_coord_ctl_reset(struct sim_znp_coord *c, uint8_t reason, uint64_t now_ms);

#endif
