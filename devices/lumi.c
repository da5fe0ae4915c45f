/* The Aqara / Xiaomi (lumi.*) models: data only. Facts and their sources are in
 * ../shared/devices/aqara-zigbee.{md,json}; choices made where the facts are unverified are in
 * docs/devices.md. A catalogue file will later fill these same structs. */
#include "devices/models.h"

/* Battery of the coin-cell sensors, in microvolts: fresh cells read 3.0-3.1 V; about 11 uV per
 * frame sent takes ~50 frames a day from 3.05 V to the z2m "empty" of 2.85 V in about a year
 * (docs/devices.md). */
#define LUMI_COIN_CELL                                                                             \
  { 3000000, 3100000, 11, 2700000 }

/* ---- lumi.sensor_ht.agl02 (WSDCGQ12LM, T1 temperature/humidity/pressure) ---------------- */

static const uint16_t ht_agl02_in[] = {0x0000, 0x0001, 0x0003, 0x0402, 0x0403, 0x0405};
static const uint16_t ht_agl02_out[] = {0x0019};
static const struct sim_model_endpoint ht_agl02_eps[] = {
    {1, 0x0104, 0x0302, ht_agl02_in, 6, ht_agl02_out, 1},
};

static const struct dev_hb_tag ht_agl02_tags[] = {
    {0x01, 0x21, DEV_HB_BATTERY_MV, 0},  {0x03, 0x28, DEV_HB_DEVICE_TEMP, 0},
    {0x05, 0x21, DEV_HB_POWER_ON, 0},    {0x08, 0x21, DEV_HB_CONST, 25},
    {0x64, 0x29, DEV_HB_TEMP_C100, 0},   {0x65, 0x21, DEV_HB_HUMIDITY_100, 0},
    {0x66, 0x2B, DEV_HB_PRESSURE_PA, 0},
};

static const struct dev_climate_params ht_agl02_params = {
    .c =
        {
            .endpoint = 1,
            .zcl_version = 3,
            .legacy_join = 0,
            .hb_min_s = 3000,
            .hb_max_s = 3600,
            .hb = {0xFCC0, 0x00F7, 0x41, ht_agl02_tags, 7},
            .battery = LUMI_COIN_CELL,
            .latency_min_us = 20000,
            .latency_max_us = 60000,
        },
    .sample_s = 60,
    /* Indoors: warmest mid-afternoon, most humid before dawn, weather moves the pressure. */
    .temp = {21.5, 1.5, 16.0, 0.3, 0.5, -20, 60},
    .hum = {45, 5, 5.0, 1.5, 0.5, 0, 100},
    .press = {1013, 0.5, 10.0, 1.0, 0.02, 950, 1060},
    .has_pressure = 1,
    .temp_step = 0.5,
    .hum_step = 2.0,
    .press_step = 1.0,
    .device_offset_temp = 1.5,
    .device_offset_hum = 5,
};

const struct sim_model dev_lumi_sensor_ht_agl02 = {
    .model_id = "lumi.sensor_ht.agl02",
    .manufacturer = "LUMI",
    .vendor_model = "WSDCGQ12LM",
    .description = "Aqara temperature and humidity sensor T1 (with pressure)",
    .power_source = SIM_POWER_BATTERY,
    .logical_type = SIM_LOGICAL_END_DEVICE,
    .sleepy = 1,
    .manufacturer_code = 0x115F,
    .ieee_oui = 0x54EF44,
    .endpoints = ht_agl02_eps,
    .n_endpoints = 1,
    .ops = &dev_climate_ops,
    .params = &ht_agl02_params,
};

/* ---- lumi.sensor_motion.aq2 (RTCGQ11LM, motion + illuminance, legacy) -------------------- */

static const uint16_t motion_aq2_in[] = {0x0000, 0xFFFF, 0x0406, 0x0400, 0x0500, 0x0001, 0x0003};
static const uint16_t motion_aq2_out[] = {0x0000, 0x0019};
static const struct sim_model_endpoint motion_aq2_eps[] = {
    {1, 0x0104, 0x0107, motion_aq2_in, 7, motion_aq2_out, 2},
};

/* Tag order as in the real report quoted by ZHA's tests (aqara-zigbee.json example_hex). */
static const struct dev_hb_tag motion_aq2_tags[] = {
    {0x01, 0x21, DEV_HB_BATTERY_MV, 0}, {0x03, 0x28, DEV_HB_DEVICE_TEMP, 0},
    {0x04, 0x21, DEV_HB_CONST, 12712},  {0x05, 0x21, DEV_HB_POWER_ON, 0},
    {0x06, 0x24, DEV_HB_TRIGGERS, 0},   {0x0A, 0x21, DEV_HB_PARENT, 0},
    {0x64, 0x10, DEV_HB_OCCUPANCY, 0},  {0x0B, 0x21, DEV_HB_ILLUMINANCE, 0},
};

static const struct dev_motion_params motion_aq2_params = {
    .c =
        {
            .endpoint = 1,
            .zcl_version = 1,
            .legacy_join = 1,
            .hb_min_s = 3000,
            .hb_max_s = 3600,
            .hb = {0x0000, 0xFF01, 0x42, motion_aq2_tags, 8},
            .battery = LUMI_COIN_CELL,
            .latency_min_us = 0,
            .latency_max_us = 0,
        },
    /* A hallway: a burst every 45 min by day, every 4 h at night, lasting 3 min on average. */
    .bursts = {2700, 14400, 7.0, 23.0, 180},
    .blind_s = 60,
    .retrigger_jitter_s = 5,
    .lux_day_max = 800,
    .lux_night = 3,
    .sunrise_h = 6.5,
    .sunset_h = 19.5,
};

const struct sim_model dev_lumi_sensor_motion_aq2 = {
    .model_id = "lumi.sensor_motion.aq2",
    .manufacturer = "LUMI",
    .vendor_model = "RTCGQ11LM",
    .description = "Aqara motion sensor with illuminance",
    .power_source = SIM_POWER_BATTERY,
    .logical_type = SIM_LOGICAL_END_DEVICE,
    .sleepy = 1,
    .manufacturer_code = 0x1037,
    .ieee_oui = 0x00158D,
    .endpoints = motion_aq2_eps,
    .n_endpoints = 1,
    .ops = &dev_motion_ops,
    .params = &motion_aq2_params,
};

/* ---- lumi.plug.maeu01 (SP-EUC01, smart plug EU with metering) ----------------------------- */

static const uint16_t plug_maeu01_in[] = {0x0000, 0x0002, 0x0003, 0x0004, 0x0005,
                                          0x0006, 0x0009, 0x0702, 0x0B04};
static const uint16_t plug_maeu01_out[] = {0x000A, 0x0019};
static const uint16_t plug_maeu01_gp_out[] = {0x0021};
static const struct sim_model_endpoint plug_maeu01_eps[] = {
    {1, 0x0104, 0x0051, plug_maeu01_in, 9, plug_maeu01_out, 2},
    {242, 0xA1E0, 0x0061, NULL, 0, plug_maeu01_gp_out, 1},
};

static const struct dev_hb_tag plug_maeu01_tags[] = {
    {0x03, 0x28, DEV_HB_DEVICE_TEMP, 0}, {0x05, 0x21, DEV_HB_POWER_ON, 0},
    {0x08, 0x21, DEV_HB_CONST, 30},      {0x64, 0x10, DEV_HB_ONOFF, 0},
    {0x95, 0x39, DEV_HB_ENERGY_KWH, 0},  {0x96, 0x39, DEV_HB_VOLTAGE_DV, 0},
    {0x97, 0x39, DEV_HB_CURRENT_MA, 0},  {0x98, 0x39, DEV_HB_POWER_W, 0},
};

static const struct dev_plug_params plug_maeu01_params = {
    .c =
        {
            .endpoint = 1,
            .zcl_version = 3,
            .legacy_join = 0,
            .hb_min_s = 3000,
            .hb_max_s = 3600,
            .hb = {0xFCC0, 0x00F7, 0x41, plug_maeu01_tags, 8},
            .battery = {0, 0, 0, 0},
            .latency_min_us = 30000,
            .latency_max_us = 80000,
        },
    .sample_s = 30,
    .load_min_w = 3,
    .load_max_w = 2000,
    .load_noise_pct = 2,
    .toggle_mean_s = 6 * 3600,
    .power_step_w = 2,
    .power_step_pct = 5,
    .report_min_s = 5,
    .report_max_s = 3600,
    .energy_step_wh = 10,
    .mains_v = 230,
    .device_temp_c = 28,
};

const struct sim_model dev_lumi_plug_maeu01 = {
    .model_id = "lumi.plug.maeu01",
    .manufacturer = "LUMI",
    .vendor_model = "SP-EUC01",
    .description = "Aqara smart plug EU with power metering",
    .power_source = SIM_POWER_MAINS,
    .logical_type = SIM_LOGICAL_ROUTER,
    .sleepy = 0,
    .manufacturer_code = 0x115F,
    .ieee_oui = 0x54EF44,
    .endpoints = plug_maeu01_eps,
    .n_endpoints = 2,
    .ops = &dev_plug_ops,
    .params = &plug_maeu01_params,
};
