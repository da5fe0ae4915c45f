/* The conversion tables of the zigbee2mqtt profile, one per Zigbee model id: which value of
 * which frame becomes which state key (zigbee-herdsman-converters' fromZigbee converters as the
 * facts describe them: scaling, rounding, lookups), and which ZCL command a /set key becomes
 * (their toZigbee converters). docs/zigbee2mqtt.md lists the table per model.
 *
 * Only keys that are exposes of the model appear here: a value the device sends for which the
 * model has no expose (a power-on count on a model without power_outage_count) publishes
 * nothing. tests/unit/devices_z2m checks every key, type, unit, range and enum value against
 * the exposes, and every write against the catalogue's writable attributes. */
#include <string.h>

#include "devices/z2m_internal.h"

/* Rule builders. ep 0: any endpoint; HB1/HB7 select a member of the 0xFF01 (genBasic) or
 * 0x00F7 (0xFCC0) TLV list. Each builder expands its arguments first (X(...) -> X_), so HB1
 * counts as the two it stands for. */
#define NUM(...) NUM_(__VA_ARGS__)
#define NUM_(ep, cl, at, tag, prop, div, add, dec)                                                 \
  { ep, cl, at, tag, prop, DEV_Z2M_NUM, div, add, dec, 0, NULL }
#define BOOL(...) BOOL_(__VA_ARGS__)
#define BOOL_(ep, cl, at, tag, prop, inv)                                                          \
  { ep, cl, at, tag, prop, DEV_Z2M_BOOL, 0, 0, 0, inv, NULL }
#define BIT(...) BIT_(__VA_ARGS__)
#define BIT_(ep, cl, at, tag, prop, bit)                                                           \
  { ep, cl, at, tag, prop, DEV_Z2M_BIT, 0, 0, 0, bit, NULL }
#define ENUM(...) ENUM_(__VA_ARGS__)
#define ENUM_(ep, cl, at, tag, prop, map)                                                          \
  { ep, cl, at, tag, prop, DEV_Z2M_ENUM, 0, 0, 0, 0, map }
#define IS(...) IS_(__VA_ARGS__)
#define IS_(ep, cl, at, tag, prop, k)                                                              \
  { ep, cl, at, tag, prop, DEV_Z2M_IS, k, 0, 0, 0, NULL }
#define BYTE(ep, cl, at, prop, idx, map)                                                           \
  { ep, cl, at, -1, prop, DEV_Z2M_BYTE, 0, 0, 0, idx, map }
#define LUX(ep, cl, at, prop)                                                                      \
  { ep, cl, at, -1, prop, DEV_Z2M_LUX, 0, 0, 0, 0, NULL }
#define AXIS(ep, cl, at, prop, i)                                                                  \
  { ep, cl, at, -1, prop, DEV_Z2M_AXIS, 0, 0, 0, i, NULL }
#define ANGLE(ep, cl, at, prop, i)                                                                 \
  { ep, cl, at, -1, prop, DEV_Z2M_ANGLE, 0, 0, 0, i, NULL }
/* Battery voltage in mV (raw / div) gives voltage and, on the model's line, battery. */
#define VOLT(...) VOLT_(__VA_ARGS__)
#define VOLT_(ep, cl, at, tag, div)                                                                \
  NUM(ep, cl, at, tag, "voltage", div, 0, 0), {                                                    \
    ep, cl, at, tag, "battery", DEV_Z2M_BATT, div, 0, 0, 0, NULL                                   \
  }
#define HB1 0x0000, 0xFF01
#define HB7 0xFCC0, 0x00F7
#define ATTR -1

/* Xiaomi heartbeat members common to most models (aqara-zigbee.md 1.5): 0x01 battery mV,
 * 0x03 chip temperature, 0x05 power-on count (zigbee2mqtt: power_outage_count = value - 1). */
#define HB_VOLT(...) VOLT(0, __VA_ARGS__, 0x01, 0)
#define HB_TEMP(...) NUM(0, __VA_ARGS__, 0x03, "device_temperature", 0, 0, 0)
#define HB_POC(...) NUM(0, __VA_ARGS__, 0x05, "power_outage_count", 0, -1, 0)
/* All three, as battery devices send them. */
#define HB_COMMON(...) HB_VOLT(__VA_ARGS__), HB_TEMP(__VA_ARGS__), HB_POC(__VA_ARGS__)

/* Temperature, humidity and pressure: 0.01 degC, 0.01 %, and hPa (measuredValue),
 * 0.1 hPa (scaledValue with scale -1) or Pa (heartbeat 0x66, / 100). */
#define CLIMATE_RULES(...)                                                                         \
  NUM(0, 0x0402, 0x0000, ATTR, "temperature", 100, 0, 2),                                          \
      NUM(0, 0x0405, 0x0000, ATTR, "humidity", 100, 0, 2),                                         \
      NUM(0, 0x0403, 0x0000, ATTR, "pressure", 1, 0, 1),                                           \
      NUM(0, 0x0403, 0x0010, ATTR, "pressure", 10, 0, 1),                                          \
      NUM(0, __VA_ARGS__, 0x64, "temperature", 100, 0, 2),                                         \
      NUM(0, __VA_ARGS__, 0x65, "humidity", 100, 0, 2),                                            \
      NUM(0, __VA_ARGS__, 0x66, "pressure", 100, 0, 1), HB_VOLT(__VA_ARGS__)

static const struct dev_z2m_rule weather[] = {
    CLIMATE_RULES(HB1),
};

static const struct dev_z2m_rule sensor_ht_agl02[] = {
    CLIMATE_RULES(HB7),
    HB_TEMP(HB7),
    HB_POC(HB7),
    VOLT(0, 0x0001, 0x0020, ATTR, 0.01),
};

/* contact = onOff == 0. The expose's value_on is false (the contact opened), so onOff maps to
 * it uninverted: inverting here as well gave the opposite of what zigbee2mqtt publishes. */
static const struct dev_z2m_rule magnet[] = {
    BOOL(0, 0x0006, 0x0000, ATTR, "contact", 0),
    BOOL(0, HB1, 0x64, "contact", 0),
    HB_COMMON(HB1),
    NUM(0, HB1, 0x06, "trigger_count", 0, -1, 0),
};

static const struct dev_z2m_rule motion_aq2[] = {
    BIT(0, 0x0406, 0x0000, ATTR, "occupancy", 0),
    /* RTCGQ11LM's measuredValue is lux itself, not the ZCL logarithm. */
    NUM(0, 0x0400, 0x0000, ATTR, "illuminance", 0, 0, 0),
    NUM(0, HB1, 0x0B, "illuminance", 0, 0, 0),
    HB_COMMON(HB1),
};

static const struct dev_z2m_rule motion_ac02[] = {
    /* A detection is 0xFCC0 0x0112 = lux + 65536. */
    BOOL(0, 0xFCC0, 0x0112, ATTR, "occupancy", 0),
    NUM(0, 0xFCC0, 0x0112, ATTR, "illuminance", 0, -65536, 0),
    NUM(0, 0xFCC0, 0x0102, ATTR, "detection_interval", 0, 0, 0),
    ENUM(0, 0xFCC0, 0x010C, ATTR, "motion_sensitivity", "1=low,2=medium,3=high"),
    BOOL(0, 0xFCC0, 0x0152, ATTR, "trigger_indicator", 0),
    VOLT(0, 0x0001, 0x0020, ATTR, 0.01),
    HB_VOLT(HB7),
    HB_TEMP(HB7),
    NUM(0, HB7, 0x65, "illuminance", 0, 0, 0),
    NUM(0, HB7, 0x69, "detection_interval", 0, 0, 0),
    ENUM(0, HB7, 0x6A, "motion_sensitivity", "1=low,2=medium,3=high"),
    BOOL(0, HB7, 0x6B, "trigger_indicator", 0),
};

/* IAS zone status (a report of 0x0500 0x0002 or a Zone Status Change Notification). */
static const struct dev_z2m_rule wleak[] = {
    BIT(0, 0x0500, 0x0002, ATTR, "water_leak", 0),
    BIT(0, 0x0500, 0x0002, ATTR, "battery_low", 3),
    HB_COMMON(HB1),
    NUM(0, HB1, 0x06, "trigger_count", 0, -1, 0),
};

static const struct dev_z2m_rule smoke[] = {
    BIT(0, 0x0500, 0x0002, ATTR, "smoke", 0),
    BIT(0, 0x0500, 0x0002, ATTR, "test", 1),
    BIT(0, 0x0500, 0x0002, ATTR, "tamper", 2),
    BIT(0, 0x0500, 0x0002, ATTR, "battery_low", 3),
    ENUM(0, 0x0500, 0xFFF0, ATTR, "sensitivity", "67174400=low,67239936=medium,67305472=high"),
    NUM(0, HB1, 0x64, "smoke_density", 0, 0, 0),
    HB_COMMON(HB1),
};

static const struct dev_z2m_rule gas[] = {
    BOOL(0, 0xFCC0, 0x013A, ATTR, "gas", 0),
    NUM(0, 0xFCC0, 0x013B, ATTR, "gas_density", 0, 0, 0),
    BOOL(0, 0xFCC0, 0x0139, ATTR, "state", 0),
    BOOL(0, 0xFCC0, 0x014C, ATTR, "linkage_alarm_state", 0),
    NUM(0, 0xFCC0, 0x0002, ATTR, "power_outage_count", 0, -1, 0),
    ENUM(0, 0xFCC0, 0x010C, ATTR, "gas_sensitivity", "1=15%LEL,2=10%LEL"),
    BOOL(0, 0xFCC0, 0x014B, ATTR, "linkage_alarm", 0),
    BOOL(0, 0xFCC0, 0x0126, ATTR, "buzzer_manual_mute", 0),
    BOOL(0, 0xFCC0, 0x013D, ATTR, "buzzer_manual_alarm", 0),
};

static const struct dev_z2m_rule sen_ill[] = {
    LUX(0, 0x0400, 0x0000, "illuminance"),
    NUM(0, HB7, 0x64, "illuminance", 0, 0, 0),
    VOLT(0, 0x0001, 0x0020, ATTR, 0.01),
    HB_VOLT(HB7),
};

static const struct dev_z2m_rule vibration[] = {
    ENUM(0, 0x0101, 0x0055, ATTR, "action", "1=vibration,2=tilt,3=drop"),
    IS(0, 0x0101, 0x0055, ATTR, "vibration", 1),
    NUM(0, 0x0101, 0x0505, ATTR, "strength", 65536, 0, 0),
    AXIS(0, 0x0101, 0x0508, "x_axis", 0),
    AXIS(0, 0x0101, 0x0508, "y_axis", 1),
    AXIS(0, 0x0101, 0x0508, "z_axis", 2),
    ANGLE(0, 0x0101, 0x0508, "angle_x", 0),
    ANGLE(0, 0x0101, 0x0508, "angle_y", 1),
    ANGLE(0, 0x0101, 0x0508, "angle_z", 2),
    NUM(0, 0x0000, 0xFF0D, ATTR, "sensitivity", 0, 0, 0),
    HB_COMMON(HB1),
};

/* WXKG11LM: genOnOff onOff is a single click, 0x8000 the click count. */
static const struct dev_z2m_rule switch_aq2[] = {
    ENUM(0, 0x0006, 0x0000, ATTR, "action", "1=single"),
    ENUM(0, 0x0006, 0x8000, ATTR, "action", "1=single,2=double,3=triple,4=quadruple"),
    HB_COMMON(HB1),
};

#define MULTISTATE_ACTIONS "0=hold,1=single,2=double,3=triple,255=release"
static const struct dev_z2m_rule remote_b1acn01[] = {
    ENUM(0, 0x0012, 0x0055, ATTR, "action", MULTISTATE_ACTIONS),
    HB_COMMON(HB1),
};

#define LN2_MODES "18=control_left_relay,34=control_right_relay,254=decoupled"
static const struct dev_z2m_rule ctrl_ln2[] = {
    BOOL(1, 0x0006, 0x0000, ATTR, "state_left", 0),
    BOOL(2, 0x0006, 0x0000, ATTR, "state_right", 0),
    NUM(3, 0x000C, 0x0055, ATTR, "power", 0, 0, 2),
    ENUM(5, 0x0012, 0x0055, ATTR, "action",
         "0=hold_left,1=single_left,2=double_left,255=release_left"),
    ENUM(6, 0x0012, 0x0055, ATTR, "action",
         "0=hold_right,1=single_right,2=double_right,255=release_right"),
    ENUM(7, 0x0012, 0x0055, ATTR, "action",
         "0=hold_both,1=single_both,2=double_both,255=release_both"),
    ENUM(0, 0x0000, 0xFF22, ATTR, "operation_mode_left", LN2_MODES),
    ENUM(0, 0x0000, 0xFF23, ATTR, "operation_mode_right", LN2_MODES),
    BOOL(0, HB1, 0x64, "state_left", 0),
    BOOL(0, HB1, 0x65, "state_right", 0),
    NUM(0, HB1, 0x95, "energy", 0, 0, 2),
    NUM(0, HB1, 0x98, "power", 0, 0, 2),
    HB_TEMP(HB1),
};

static const struct dev_z2m_rule l1aeu1[] = {
    BOOL(1, 0x0006, 0x0000, ATTR, "state", 0),
    ENUM(41, 0x0012, 0x0055, ATTR, "action", "1=single,2=double"),
    ENUM(0, 0xFCC0, 0x0200, ATTR, "operation_mode", "0=decoupled,1=control_relay"),
    BOOL(0, 0xFCC0, 0x0201, ATTR, "power_outage_memory", 0),
    BOOL(0, 0xFCC0, 0x0203, ATTR, "led_disabled_night", 0),
    BOOL(0, 0xFCC0, 0x00F0, ATTR, "flip_indicator_light", 0),
    ENUM(0, 0xFCC0, 0x0004, ATTR, "mode_switch", "4=anti_flicker_mode,1=quick_mode"),
    ENUM(0, HB7, 0x04, "mode_switch", "4=anti_flicker_mode,1=quick_mode"),
    BOOL(0, HB7, 0x64, "state", 0),
    HB_TEMP(HB7),
    HB_POC(HB7),
};

/* Metering in the heartbeat: 0x95 kWh, 0x96 voltage (div), 0x97 mA, 0x98 W. */
#define HB_METER(...)                                                                              \
  NUM(0, __VA_ARGS__, 0x95, "energy", 0, 0, 2), NUM(0, __VA_ARGS__, 0x98, "power", 0, 0, 2)
#define HB_VI(hb, vdiv)                                                                            \
  NUM(0, hb, 0x96, "voltage", vdiv, 0, 1), NUM(0, hb, 0x97, "current", 1000, 0, 3)

static const struct dev_z2m_rule plug[] = {
    BOOL(1, 0x0006, 0x0000, ATTR, "state", 0),
    NUM(2, 0x000C, 0x0055, ATTR, "power", 0, 0, 2),
    BOOL(0, HB1, 0x64, "state", 0),
    HB_METER(HB1),
    HB_TEMP(HB1),
};

static const struct dev_z2m_rule plug_maeu01[] = {
    BOOL(1, 0x0006, 0x0000, ATTR, "state", 0),
    NUM(1, 0x0B04, 0x050B, ATTR, "power", 0, 0, 2),
    NUM(1, 0x0702, 0x0000, ATTR, "energy", 1000, 0, 2),
    NUM(1, 0x0002, 0x0000, ATTR, "device_temperature", 0, 0, 0),
    NUM(21, 0x000C, 0x0055, ATTR, "power", 0, 0, 2),
    NUM(31, 0x000C, 0x0055, ATTR, "energy", 0, 0, 2),
    BOOL(0, HB7, 0x64, "state", 0),
    HB_METER(HB7),
    HB_VI(HB7, 10),
    HB_TEMP(HB7),
};

static const struct dev_z2m_rule curtain[] = {
    NUM(0, 0x000D, 0x0055, ATTR, "position", 0, 0, 0),
    NUM(0, 0x0102, 0x0008, ATTR, "position", 0, 0, 0),
    ENUM(0, 0x0000, 0x0404, ATTR, "motor_state", "0=stopped,1=opening,2=closing"),
    BOOL(0, 0x0000, 0x0404, ATTR, "running", 0),
};

static const struct dev_z2m_rule airrtc[] = {
    NUM(0, 0x0201, 0x0000, ATTR, "local_temperature", 100, 0, 2),
    NUM(0, 0x0201, 0x0012, ATTR, "occupied_heating_setpoint", 100, 0, 1),
    NUM(0, 0xFCC0, 0x040A, ATTR, "battery", 0, 0, 0),
    NUM(0, 0x0001, 0x0020, ATTR, "voltage", 0.01, 0, 0),
    ENUM(0, 0xFCC0, 0x0271, ATTR, "system_mode", "0=off,1=heat"),
    ENUM(0, 0xFCC0, 0x0272, ATTR, "preset", "0=manual,1=auto,2=away"),
    BOOL(0, 0xFCC0, 0x0273, ATTR, "window_detection", 0),
    BOOL(0, 0xFCC0, 0x0274, ATTR, "valve_detection", 0),
    BOOL(0, 0xFCC0, 0x0275, ATTR, "valve_alarm", 0),
    BOOL(0, 0xFCC0, 0x0277, ATTR, "child_lock", 0),
    NUM(0, 0xFCC0, 0x0279, ATTR, "away_preset_temperature", 100, 0, 1),
    BOOL(0, 0xFCC0, 0x027A, ATTR, "window_open", 0),
    BOOL(0, 0xFCC0, 0x027B, ATTR, "calibrated", 0),
    BOOL(0, 0xFCC0, 0x027D, ATTR, "schedule", 0),
    ENUM(0, 0xFCC0, 0x027E, ATTR, "sensor", "0=internal,1=external,2=external"),
    HB_TEMP(HB7),
    HB_POC(HB7),
    ENUM(0, HB7, 0x65, "preset", "0=manual,1=auto,2=away"),
    NUM(0, HB7, 0x66, "local_temperature", 100, 0, 2),
    NUM(0, HB7, 0x69, "battery", 0, 0, 0),
};

/* A light's switch and level, as zigbee-herdsman-converters' on_off and brightness. */
#define LIGHT_RULES                                                                                \
  BOOL(0, 0x0006, 0x0000, ATTR, "state", 0), NUM(0, 0x0008, 0x0000, ATTR, "brightness", 0, 0, 0)

static const struct dev_z2m_rule light_aqcn02[] = {
    LIGHT_RULES,
    NUM(0, 0x0300, 0x0007, ATTR, "color_temp", 0, 0, 0),
    BOOL(0, HB1, 0x64, "state", 0),
    NUM(0, HB1, 0x65, "brightness", 0, 0, 0),
    NUM(0, HB1, 0x66, "color_temp", 0, 0, 0),
};

static const struct dev_z2m_rule agl011[] = {
    LIGHT_RULES,
    NUM(0, 0x000C, 0x0055, ATTR, "power", 0, 0, 2),
    ENUM(0, 0x0012, 0x0055, ATTR, "action", "0=hold,1=single,2=double,255=release"),
    ENUM(0, 0xFCC0, 0x0200, ATTR, "operation_mode", "0=decoupled,1=control_relay"),
    ENUM(0, 0xFCC0, 0x030A, ATTR, "phase", "0=forward,1=reverse"),
    NUM(0, 0xFCC0, 0x0515, ATTR, "min_brightness", 0, 0, 0),
    NUM(0, 0xFCC0, 0x0516, ATTR, "max_brightness", 0, 0, 0),
    BOOL(0, 0xFCC0, 0x0203, ATTR, "led_indicator", 0),
    BOOL(0, 0xFCC0, 0x00F0, ATTR, "flip_indicator_light", 0),
    HB_METER(HB7),
    HB_VI(HB7, 100),
};

/* ZNMS12LM strings: byte 3 of 0xFF10 the unlock method, byte 6 of 0xFF11 the failure, byte 3
 * of 0xFFF6 the lock status. */
static const struct dev_z2m_rule lock_acn02[] = {
    BYTE(0, 0x0101, 0xFF10, "action", 3, "1=finger_open,2=password_open"),
    BYTE(0, 0x0101, 0xFF11, "action", 6, "64=finger_not_match,2=password_not_match,0=ring_bell"),
    BYTE(0, 0x0101, 0xFFF6, "action", 3, "12=lock_opened_inside,11=lock_opened_outside,1=locked"),
    BYTE(0, 0x0101, 0xFFF6, "state", 3, "12=UNLOCK,11=UNLOCK,1=LOCK"),
    BIT(0, 0x0001, 0x0035, ATTR, "battery_low", 0),
    HB_VOLT(HB1),
};

/* ---- /set ---------------------------------------------------------------------------------- */

#define ONOFF(prop, ep)                                                                            \
  { prop, DEV_Z2M_SET_ONOFF, ep, 0x0006, 0, 0, 0, 0, NULL }
#define LEVEL(prop)                                                                                \
  { prop, DEV_Z2M_SET_LEVEL, 1, 0x0008, 0, 0, 0, 0, NULL }
#define CT(prop)                                                                                   \
  { prop, DEV_Z2M_SET_CT, 1, 0x0300, 0, 0, 0, 0, NULL }
#define WRITE(prop, cl, at, mfr, type, mul, map)                                                   \
  { prop, DEV_Z2M_SET_WRITE, 1, cl, at, mfr, type, mul, map }
#define LUMI 0x115F
#define T_BOOL 0x10
#define T_U8 0x20
#define T_U32 0x23
#define T_I16 0x29
#define T_FLOAT 0x39
#define ONOFF_MAP "true=1,false=0,ON=1,OFF=0"

static const struct dev_z2m_setrule set_switch[] = {
    ONOFF("state", 1),
};
static const struct dev_z2m_setrule set_l1aeu1[] = {
    ONOFF("state", 1),
    WRITE("operation_mode", 0xFCC0, 0x0200, LUMI, T_U8, 0, "decoupled=0,control_relay=1"),
    WRITE("power_outage_memory", 0xFCC0, 0x0201, LUMI, T_BOOL, 0, ONOFF_MAP),
    WRITE("led_disabled_night", 0xFCC0, 0x0203, LUMI, T_BOOL, 0, ONOFF_MAP),
};
static const struct dev_z2m_setrule set_ln2[] = {
    ONOFF("state_left", 1),
    ONOFF("state_right", 2),
};
static const struct dev_z2m_setrule set_light[] = {
    ONOFF("state", 1),
    LEVEL("brightness"),
    CT("color_temp"),
};
static const struct dev_z2m_setrule set_dimmer[] = {
    ONOFF("state", 1),
    LEVEL("brightness"),
};
static const struct dev_z2m_setrule set_curtain[] = {
    WRITE("position", 0x000D, 0x0055, 0, T_FLOAT, 1, NULL),
    {"state", DEV_Z2M_SET_COVER, 1, 0x000D, 0x0055, 0, T_FLOAT, 1, "OPEN=100,CLOSE=0"},
};
static const struct dev_z2m_setrule set_motion_ac02[] = {
    WRITE("detection_interval", 0xFCC0, 0x0102, LUMI, T_U8, 1, NULL),
    WRITE("motion_sensitivity", 0xFCC0, 0x010C, LUMI, T_U8, 0, "low=1,medium=2,high=3"),
    WRITE("trigger_indicator", 0xFCC0, 0x0152, LUMI, T_U8, 0, ONOFF_MAP),
};
static const struct dev_z2m_setrule set_gas[] = {
    WRITE("gas_sensitivity", 0xFCC0, 0x010C, LUMI, T_U8, 0, "15%LEL=1,10%LEL=2"),
    WRITE("linkage_alarm", 0xFCC0, 0x014B, LUMI, T_U8, 0, ONOFF_MAP),
    WRITE("selftest", 0xFCC0, 0x0127, LUMI, T_BOOL, 0, "selftest=1"),
    WRITE("buzzer", 0xFCC0, 0x013F, LUMI, T_U32, 0, "alarm=15361,mute=15360"),
};
static const struct dev_z2m_setrule set_smoke[] = {
    WRITE("sensitivity", 0x0500, 0xFFF1, LUMI, T_U32, 0,
          "low=67174400,medium=67239936,high=67305472"),
    WRITE("selftest", 0x0500, 0xFFF1, LUMI, T_U32, 0, "=50397184"),
};
static const struct dev_z2m_setrule set_vibration[] = {
    WRITE("sensitivity", 0x0000, 0xFF0D, LUMI, T_U8, 1, NULL),
};
static const struct dev_z2m_setrule set_airrtc[] = {
    WRITE("occupied_heating_setpoint", 0x0201, 0x0012, 0, T_I16, 100, NULL),
    WRITE("system_mode", 0xFCC0, 0x0271, LUMI, T_U8, 0, "off=0,heat=1"),
    WRITE("preset", 0xFCC0, 0x0272, LUMI, T_U8, 0, "manual=0,auto=1,away=2"),
};

#define N(a) (sizeof(a) / sizeof(a[0]))
#define TABLE(id, r, s)                                                                            \
  { id, r, N(r), s, N(s) }
#define TABLE_RO(id, r)                                                                            \
  { id, r, N(r), NULL, 0 }

/* In model id order. */
static const struct dev_z2m_table tables[] = {
    TABLE("lumi.airrtc.agl001", airrtc, set_airrtc),
    TABLE("lumi.ctrl_ln2", ctrl_ln2, set_ln2),
    TABLE("lumi.ctrl_ln2.aq1", ctrl_ln2, set_ln2),
    TABLE("lumi.curtain", curtain, set_curtain),
    TABLE("lumi.light.aqcn02", light_aqcn02, set_light),
    TABLE_RO("lumi.lock.acn02", lock_acn02),
    TABLE("lumi.motion.ac02", motion_ac02, set_motion_ac02),
    TABLE("lumi.plug", plug, set_switch),
    TABLE("lumi.plug.maeu01", plug_maeu01, set_switch),
    TABLE_RO("lumi.remote.b1acn01", remote_b1acn01),
    TABLE_RO("lumi.sen_ill.mgl01", sen_ill),
    TABLE("lumi.sensor_gas.acn02", gas, set_gas),
    TABLE_RO("lumi.sensor_ht.agl02", sensor_ht_agl02),
    TABLE_RO("lumi.sensor_magnet.aq2", magnet),
    TABLE_RO("lumi.sensor_motion.aq2", motion_aq2),
    TABLE("lumi.sensor_smoke", smoke, set_smoke),
    TABLE_RO("lumi.sensor_switch.aq2", switch_aq2),
    TABLE_RO("lumi.sensor_wleak.aq1", wleak),
    TABLE("lumi.switch.agl011", agl011, set_dimmer),
    TABLE("lumi.switch.l1aeu1", l1aeu1, set_l1aeu1),
    TABLE("lumi.vibration.aq1", vibration, set_vibration),
    TABLE_RO("lumi.weather", weather),
};

const struct dev_z2m_table *dev__z2m_table(const char *model_id) {
  for (size_t i = 0; i < N(tables); i++)
    if (strcmp(tables[i].model_id, model_id) == 0)
      return &tables[i];
  return NULL;
}

const struct dev_z2m_table *dev__z2m_tables(size_t *n) {
  *n = N(tables);
  return tables;
}
