/* The data-driven device catalogue's types: the compiled form of the YAML files of
 * devices/catalog/, the limits the loader enforces, and lookups in a loaded catalogue.
 *
 * A catalogue file describes models as data (docs/catalog.md is the normative format). The
 * loader (devices/cat_load.h) parses the YAML, checks every field, resolves names to indices,
 * lays out each model's per-device state and builds one `struct dev_cat_model` per model id.
 * The generic behaviour (devices/generic.c, `dev_generic_ops`) interprets these tables at run
 * time; nothing about a particular product is in C code.
 *
 * Ownership: everything a loaded catalogue points to (strings, arrays, models) is owned by the
 * `struct dev_cat` and freed by dev_cat_free(). The engine's model registry borrows the embedded
 * `struct sim_model`s, so a catalogue whose models were registered must outlive every fleet.
 *
 * Per-device state: every stateful piece (a channel's value, a walk's deviation, a report's last
 * value...) has a byte offset into sim_device.state assigned by the loader; sizes are in the
 * comments below. A model whose state does not fit SIM_DEV_STATE_BYTES is refused at load.
 * Times kept in state are 32-bit and read relative to the device's clock, so they work for any
 * run length (devices/generic.c): a deadline ("ms" below) is device milliseconds modulo 2^31,
 * or, when it is more than ~23 days ahead, device seconds modulo 2^31 with the top bit set; a
 * time stamp of the past ("stamp") is device milliseconds modulo 2^32. */
#ifndef DEVICES_CAT_TYPES_H
#define DEVICES_CAT_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "sim/fleet/model.h"

#define DEV_CAT_NAME_MAX 32 /* channel and trigger names, including the NUL */
#define DEV_CAT_NO_OFF 0xFFFF

/* ---- limits the loader enforces (docs/catalog.md "Limits") ------------------------------- */

/* The largest catalogue file: about a hundred times the largest built-in one. */
#define DEV_CAT_FILE_MAX (1024 * 1024)
/* The deepest nesting of mappings and sequences in a file; the format needs 7. */
#define DEV_CAT_DEPTH_MAX 32
/* Anchors (&name) one file may define. */
#define DEV_CAT_ANCHORS_MAX 256
/* *.yaml files one --catalog directory may hold. */
#define DEV_CAT_DIR_FILES_MAX 512
/* Model ids (aliases included) and hub ids in one catalogue: the engine's model registry holds
 * SIM_MODEL_MAX models. */
#define DEV_CAT_MODELS_MAX SIM_MODEL_MAX
#define DEV_CAT_HUBS_MAX 256
/* genBasic strings as the ZCL specification bounds them: modelIdentifier and
 * manufacturerName 0..32 bytes, swBuildId 0..16 bytes. */
#define DEV_CAT_ID_MAX 32
#define DEV_CAT_SW_BUILD_MAX 16
/* Strings shown by `hubsim devices` and the dashboards (vendor, vendor_model, category; hub
 * name, vendor model and firmware) and the description. */
#define DEV_CAT_LABEL_MAX 32
#define DEV_CAT_HUB_LABEL_MAX 64
#define DEV_CAT_DESCRIPTION_MAX 96
/* What a hub carries of a device in DeviceJoined (sim/fleet/hubdev.c keeps at most 8 endpoints
 * with at most 32 input and 32 output clusters each). */
#define DEV_CAT_ENDPOINTS_MAX 8
#define DEV_CAT_CLUSTERS_MAX 32
/* The largest magnitude of any number in a file: no quantity of a device model needs more,
 * integers are exact below it, and every value stays within a float's range. */
#define DEV_CAT_NUMBER_MAX 1e15
/* Fixed durations (sample_s, hold_s, blind_s, retrigger_s, reset_s, travel_s, period_s, min_s,
 * max_s, poll_s): at most 10 days. Means of random gaps (gap_day_s, gap_night_s, length_s,
 * local_s) may be longer, up to DEV_CAT_MEAN_MAX_S. */
#define DEV_CAT_DURATION_MAX_S 864000.0
#define DEV_CAT_MEAN_MAX_S 3.15e9 /* about a century */
/* Command latency (latency_ms): at most 10 minutes. */
#define DEV_CAT_LATENCY_MAX_MS 600000.0
/* Battery voltages (fresh_mv, empty_mv, percent_mv), millivolts. */
#define DEV_CAT_BATTERY_MAX_MV 100000.0
/* The longest chain of channels read through one another (derive operands, an energy channel's
 * power, device_temp's power), the channel itself included. */
#define DEV_CAT_READ_DEPTH 8

/* ---- channels: the named quantities of a device ------------------------------------------ */

enum dev_ch_kind {
  /* behaviours (docs/catalog.md "Channels") */
  DEV_CH_WALK = 1,  /* random walk on a daily cycle, sampled every sample_s */
  DEV_CH_DAYLIGHT,  /* illuminance following the sun, sampled every sample_s */
  DEV_CH_BURSTS,    /* Poisson bursts of detections (motion, vibration, button presses) */
  DEV_CH_TWO_STATE, /* rare two-state events (door, leak, smoke, gas) */
  DEV_CH_ACTUATOR,  /* state set by commands, with latency and optional travel time */
  DEV_CH_METER,     /* electrical power drawn while any of its `on` channels is non-zero */
  DEV_CH_ENERGY,    /* integral of a power channel, kWh */
  DEV_CH_DERIVE,    /* a op b, computed when read; no state */
  DEV_CH_CONST,     /* a per-device constant drawn once in [lo, hi]; no state */
  DEV_CH_DIRECTION, /* movement of an actuator: stopped / opening / closing; no state */
  /* built-ins, usable by name in any model without being declared */
  DEV_CH_BATTERY_MV,  /* battery voltage, mV (state: uint32 microvolts) */
  DEV_CH_BATTERY_PCT, /* battery percent from the model's percent_mv curve; no state */
  DEV_CH_BATTERY_LOW, /* 1 below the model's low_pct; no state */
  DEV_CH_DEVICE_TEMP, /* chip temperature, degC; no state */
  DEV_CH_POWER_ON,    /* power-on count, incremented on every rejoin (state: uint16) */
  DEV_CH_TRIGGERS,    /* count of events of the device's event channels (state: uint32) */
  DEV_CH_PARENT,      /* NWK address of the parent (0x0000: the hub); no state */
  DEV_CH_LQI,         /* link quality of the last frame (sim_device.lqi) */
  DEV_CH_UPTIME,      /* seconds since the device joined; no state */
};

enum dev_derive_op { DEV_OP_ADD = 1, DEV_OP_SUB, DEV_OP_MUL, DEV_OP_DIV };

/* A value in a derive operand or a parameter that may name a channel: ch >= 0 uses the
 * channel, else k. */
struct dev_cat_operand {
  int16_t ch;
  double k;
};

struct dev_cat_channel {
  char name[DEV_CAT_NAME_MAX];
  uint8_t kind;     /* enum dev_ch_kind */
  uint8_t is_event; /* 1: changes of this channel are events (bursts, two_state, actuator) */
  uint16_t off;     /* state offset of the current value (float, 4 B), or DEV_CAT_NO_OFF */
  uint16_t off_a;   /* kind-specific state, see below, or DEV_CAT_NO_OFF */
  uint16_t off_b;
  uint16_t off_c;
  union {
    struct { /* DEV_CH_WALK. off_a: deviation x (float) */
      double base, daily_amp, peak_hour, sigma, revert, min, max;
      double spread;      /* per-device offset of the level, uniform in [-spread, +spread] */
      double sample_s;    /* sampling period; samples fall on a per-device phase */
      int16_t toward;     /* channel whose value replaces base (thermostat), or -1 */
      double toward_rate; /* per hour: how fast the level follows `toward` (0: at once) */
    } walk;
    struct {           /* DEV_CH_DAYLIGHT */
      double max_lx;   /* at noon, brightest room */
      double night_lx; /* at night: uniform in [0, night_lx] */
      double sunrise_h, sunset_h;
      double spread; /* per-device room factor in [1 - spread, 1] */
      double sample_s;
    } daylight;
    struct { /* DEV_CH_BURSTS. off_a: next detection (uint32 ms), off_b: burst end (uint32
                ms), off_c: reset time (uint32 ms) when reset_s > 0 */
      double gap_day_s, gap_night_s, day_start_h, day_end_h;
      double length_s;    /* mean burst length; 0: every burst is one detection */
      double blind_s;     /* no detection within blind_s of the previous one */
      double retrigger_s; /* continuing activity is seen uniform in [0, retrigger_s] after */
      double values[8];   /* the value of a detection: drawn by weights */
      double weights[8];
      uint8_t n_values;
      double reset_s; /* > 0: the value returns to `reset` this long after a detection */
      double reset;
      uint8_t reset_event; /* 1: the return to `reset` is an event too */
    } bursts;
    struct { /* DEV_CH_TWO_STATE. off_a: next transition (uint32 ms) */
      double idle, active;
      double gap_day_s, gap_night_s, day_start_h, day_end_h; /* mean time idle */
      double hold_min_s, hold_max_s; /* time active: log-uniform in [min, max] */
    } two;
    struct { /* DEV_CH_ACTUATOR. off_a: target (float), off_b: arrival (uint32 ms),
                off_c: next local toggle (uint32 ms) when local_s > 0 */
      double min, max, initial;
      double travel_s; /* time for the whole range min..max; 0: moves at once */
      double local_s;  /* mean time between local toggles (0/1 actuators only); 0: none */
      double step;     /* values are rounded to a multiple of step (0: none) */
    } act;
    struct {         /* DEV_CH_METER */
      int16_t on[4]; /* channels; power flows while any is non-zero */
      uint8_t n_on;
      double load_min_w, load_max_w; /* per-device load, log-uniform */
      double noise_pct;              /* sd of the load's fluctuation at each sample, percent */
      double standby_w;
      double sample_s;
    } meter;
    struct {      /* DEV_CH_ENERGY. off is a double (8 B) of kWh; off_a: last integration (uint32
                     stamp) */
      int16_t of; /* the power channel, W */
      double initial_kwh_max; /* a new device starts in [0, initial_kwh_max] */
    } energy;
    struct {
      uint8_t op; /* enum dev_derive_op */
      struct dev_cat_operand a, b;
    } derive;
    struct {
      double lo, hi;
    } konst;
    struct {
      int16_t of;                       /* an actuator with travel */
      double stopped, opening, closing; /* opening: moving towards max */
    } dir;
  } p;
};

/* ---- attributes: what the device exposes and reports ------------------------------------- */

enum dev_encode {
  DEV_ENC_LINEAR = 0,  /* wire = round(value * scale + offset) */
  DEV_ENC_NOT,         /* bool: wire = value == 0 */
  DEV_ENC_LOG_LUX,     /* wire = round(10000 * log10(max(value, 1))) + 1 (ZCL illuminance) */
  DEV_ENC_ZONE_STATUS, /* bitmap16: (value != 0) << bit, | 0x0008 when battery_low */
  DEV_ENC_MAP,         /* string types: the bytes of the map entry whose key == value */
  DEV_ENC_HEX,         /* string types: constant bytes */
};

enum dev_report_mode {
  DEV_REP_NONE = 0, /* read only */
  DEV_REP_CHANGE,   /* on change: |v - last| >= change, not within min_s, at least every max_s */
  DEV_REP_EVENT,    /* every event of its channel */
};

#define DEV_CAT_MAP_MAX 8
#define DEV_CAT_BYTES_MAX 32
/* Records a report frame carries besides its own attribute's (`same_frame`). */
#define DEV_CAT_SAME_FRAME_MAX 4

struct dev_cat_bytes {
  uint8_t b[DEV_CAT_BYTES_MAX];
  uint8_t n;
};

/* How a channel's value becomes a wire value. Shared by attributes and heartbeat tags. */
struct dev_cat_value {
  int16_t ch;                      /* channel index, or -1 for a constant */
  double k;                        /* the constant when ch < 0 */
  uint8_t type;                    /* ZCL type id */
  uint8_t encode;                  /* enum dev_encode */
  double scale;                    /* default 1 */
  double offset;                   /* default 0 */
  uint8_t bit;                     /* DEV_ENC_ZONE_STATUS */
  struct dev_cat_bytes hex;        /* DEV_ENC_HEX */
  double map_key[DEV_CAT_MAP_MAX]; /* DEV_ENC_MAP */
  struct dev_cat_bytes map_val[DEV_CAT_MAP_MAX];
  uint8_t n_map;
};

struct dev_cat_attr {
  char name[DEV_CAT_NAME_MAX];
  uint8_t ep;
  uint16_t cluster;
  uint16_t attr;
  uint16_t mfr; /* manufacturer code in the frame header; 0: none */
  char unit[12];
  struct dev_cat_value v;
  uint8_t report; /* enum dev_report_mode */
  /* DEV_REP_EVENT: the channel whose events send this attribute: its own channel, the actuator
   * a direction channel follows, or the one named by `report: {with: CHANNEL}` (illuminance
   * sent with every motion detection). */
  int16_t event_ch;
  uint8_t on_join;        /* 1: reported right after joining */
  uint8_t as_zone_status; /* 1: reported as IAS Zone Status Change Notification (0x0500 cmd 0) */
  uint8_t writable;       /* 1: Write Attributes sets its channel (actuator: as a command target) */
  double change;          /* DEV_REP_CHANGE threshold in channel units (0: any change) */
  double change_pct;      /* or percent of the last reported value, whichever is larger */
  double min_s, max_s;
  /* DEV_REP_CHANGE, `at_once_with: CHANNEL`: a change pending when CHANNEL has an event is
   * reported then, min_s notwithstanding (a plug's power the moment its relay opens), or -1. */
  int16_t at_once_ch;
  uint16_t off_last; /* DEV_REP_CHANGE: last reported value (float) and time (uint32 stamp) at
                        off_last + 4 */
  /* `same_frame`: the attributes (indices into the model's table; same endpoint, cluster and
   * manufacturer code, each reported by no other way) whose records follow this one's in every
   * report frame it sends, in this order. */
  uint8_t same[DEV_CAT_SAME_FRAME_MAX];
  uint8_t n_same;
  uint8_t in_frame_of; /* 1: listed in another attribute's same_frame */
};

/* ---- heartbeat --------------------------------------------------------------------------- */

struct dev_cat_tag {
  uint8_t tag;
  struct dev_cat_value v; /* fixed-size numeric types only */
};

struct dev_cat_heartbeat {
  uint8_t present;
  uint16_t cluster; /* 0x0000 (format ff01) or 0xFCC0 (00f7) */
  uint16_t attr;    /* 0xFF01 or 0x00F7 */
  uint8_t type;     /* 0x42 or 0x41 */
  double period_min_s, period_max_s;
  /* Added to the TLV list's length byte: real units of some models declare one byte more than
   * they send (lumi.sensor_wleak.aq1); hosts must cope, so the simulator can do it on purpose. */
  int8_t length_adjust;
  struct dev_cat_tag *tags;
  uint8_t n_tags;
  uint16_t off_next; /* next heartbeat (uint32 ms) */
};

/* ---- commands, triggers ------------------------------------------------------------------ */

enum dev_action {
  DEV_DO_SET = 1, /* value := k */
  DEV_DO_ON,      /* value := 1 */
  DEV_DO_OFF,     /* value := 0 */
  DEV_DO_TOGGLE,  /* value := value == 0 */
  DEV_DO_ARG,     /* value := (payload field at arg_off of arg_type) / arg_scale */
  DEV_DO_STOP,    /* an actuator with travel stops where it is */
  DEV_DO_DETECT,  /* a bursts channel detects now (value k, or drawn when k is NaN) */
  DEV_DO_FOLLOW,  /* value := 1 when the source value (see struct dev_cat_step) is non-zero,
                     else 0 */
};

/* The catalogue's word for an action ("set", "on", ..., "follow"), or "?" for a value outside
 * enum dev_action. A static string. */
const char *dev_cat_action_name(uint8_t action);

/* Chains between channels (docs/catalog.md "Chains"): a step is an action on a channel that
 * another change causes, taken only while every condition holds (the channel's value == k).
 * Its source value (for DEV_DO_FOLLOW) is the value a command sets (a command's `then`) or the
 * new value of the channel that fired (a model's `chains`). */
#define DEV_CAT_CHAINS_MAX 32 /* chains of one model */
#define DEV_CAT_THEN_MAX 2    /* steps of one command */
#define DEV_CAT_IF_MAX 2      /* conditions of one step */

struct dev_cat_cond {
  int16_t ch;
  double k;
};

struct dev_cat_step {
  uint8_t action; /* enum dev_action: set, on, off, toggle, follow */
  int16_t ch;
  double k; /* DEV_DO_SET */
  struct dev_cat_cond cond[DEV_CAT_IF_MAX];
  uint8_t n_cond;
};

/* A model's chain: every event of channel `when` takes step s at once. The loader refuses
 * chains that lead back to where they started, so a change causes finitely many steps. */
struct dev_cat_chain {
  int16_t when;
  struct dev_cat_step s;
};

struct dev_cat_command {
  uint8_t ep; /* 0: any endpoint */
  uint16_t cluster;
  uint8_t command; /* cluster-specific command id */
  uint8_t action;  /* enum dev_action */
  int16_t ch;
  double k;
  uint8_t arg_off, arg_type;
  double arg_scale; /* default 1 */
  /* `then`: steps taken with the command, after the same latency; their source value is the
   * value the command sets (moveToLevelWithOnOff switching the light on above level 0). */
  struct dev_cat_step then[DEV_CAT_THEN_MAX];
  uint8_t n_then;
};

struct dev_cat_trigger {
  char name[DEV_CAT_NAME_MAX];
  uint8_t action; /* enum dev_action (not DEV_DO_ARG) */
  int16_t ch;
  double k;
};

/* ---- a model ----------------------------------------------------------------------------- */

struct dev_cat_battery {
  double fresh_min_mv, fresh_max_mv;
  double empty_mv;
  double per_frame_uv;           /* drop per frame sent */
  double per_day_uv;             /* self-discharge, applied at every heartbeat */
  double pct_min_mv, pct_max_mv; /* percent curve: linear */
  double low_pct;                /* battery_low below this */
};

struct dev_cat_model {
  struct sim_model m; /* identity; m.ops = &dev_generic_ops, m.params = this struct */
  const char *category;
  const char *vendor;      /* brand shown by `hubsim devices`, e.g. "Aqara" */
  const char *source_file; /* for messages: where it was defined */
  int source_line;
  uint8_t alias_of_first; /* 1: registered under an alias; shares the tables of the first id */
  uint8_t zcl_version, app_version, hw_version;
  const char *sw_build; /* genBasic 0x4000, may be NULL */
  uint8_t legacy_join;  /* join: legacy (genBasic 0x0005 modelId + heartbeat in one frame) */
  double poll_s;        /* sleepy devices: how often they poll their parent (0: never) */
  double latency_min_ms, latency_max_ms;
  uint8_t has_battery;
  struct dev_cat_battery battery;
  double lqi_min, lqi_max, lqi_drift; /* per-device base in [min, max]; drift sd per frame */
  double device_temp_base, device_temp_spread, device_temp_per_w; /* DEV_CH_DEVICE_TEMP */
  int16_t device_temp_power; /* meter channel heating the chip, or -1 */

  struct dev_cat_channel *ch;
  uint8_t n_ch;
  struct dev_cat_attr *attr;
  uint8_t n_attr;
  struct dev_cat_heartbeat hb;
  struct dev_cat_command *cmd;
  uint8_t n_cmd;
  struct dev_cat_trigger *trig;
  uint8_t n_trig;
  struct dev_cat_chain *chain;
  uint8_t n_chain;
  uint16_t state_bytes; /* bytes of sim_device.state used */
  uint8_t sampled;      /* 1: some channel samples on a grid (walk, daylight, meter): the device
                         * steps its silent samples lazily (devices/generic_lazy.c) */
  uint8_t keeps_stamps; /* 1: change reports or an energy channel keep stamps of the past */
};

/* A hub (gateway) model: shapes Hello and how many devices a hub accepts. */
struct dev_cat_hub {
  const char *model_id; /* e.g. "lumi.gateway.aqcn02" */
  const char *name;
  const char *vendor_model;
  const char *firmware; /* sent in Hello */
  uint32_t max_devices;
  uint8_t is_default; /* 1: the hub model announced when none is chosen (one per catalogue) */
  const char *source_file;
  int source_line;
};

/* A loaded catalogue. */
struct dev_cat {
  struct dev_cat_model **models; /* one per model id (aliases included) */
  size_t n_models;
  struct dev_cat_hub *hubs;
  size_t n_hubs;
  void *arena; /* the loader's allocations */
};

/* ---- lookups in a loaded catalogue (devices/cat_load.c) ---------------------------------- */

/* A model or hub by id (aliases included), or NULL; c may be NULL. Borrowed from c. */
const struct dev_cat_model *dev_cat_find(const struct dev_cat *c, const char *model_id);
const struct dev_cat_hub *dev_cat_find_hub(const struct dev_cat *c, const char *model_id);
/* The hub marked `default: true` (at most one per catalogue; the built-in catalogue has one), or
 * NULL; c may be NULL. Borrowed from c. */
const struct dev_cat_hub *dev_cat_default_hub(const struct dev_cat *c);

/* Channel index by name, or -1. */
int dev_cat_channel_find(const struct dev_cat_model *cm, const char *name);

#endif
