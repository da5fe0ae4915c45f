/* ZCL names: see zcl_names.h. The tables hold the clusters and commands the device catalogue
 * and the reference platform use; a number without a name is shown as a number. */
#include "sim/wire/zcl_names.h"

#include <stddef.h>

static const struct {
  uint16_t id;
  const char *name;
} cluster_names[] = {
    {0x0000, "genBasic"},
    {0x0001, "genPowerCfg"},
    {0x0002, "genDeviceTempCfg"},
    {0x0003, "genIdentify"},
    {0x0004, "genGroups"},
    {0x0005, "genScenes"},
    {0x0006, "genOnOff"},
    {0x0008, "genLevelCtrl"},
    {0x0009, "genAlarms"},
    {0x000A, "genTime"},
    {0x000C, "genAnalogInput"},
    {0x000D, "genAnalogOutput"},
    {0x000F, "genBinaryInput"},
    {0x0010, "genBinaryOutput"},
    {0x0012, "genMultistateInput"},
    {0x0013, "genMultistateOutput"},
    {0x0019, "genOta"},
    {0x0020, "genPollCtrl"},
    {0x0021, "greenPower"},
    {0x0101, "closuresDoorLock"},
    {0x0102, "closuresWindowCovering"},
    {0x0201, "hvacThermostat"},
    {0x0300, "lightingColorCtrl"},
    {0x0400, "msIlluminanceMeasurement"},
    {0x0402, "msTemperatureMeasurement"},
    {0x0403, "msPressureMeasurement"},
    {0x0405, "msRelativeHumidity"},
    {0x0406, "msOccupancySensing"},
    {0x0500, "ssIasZone"},
    {0x0702, "seMetering"},
    {0x0B04, "haElectricalMeasurement"},
    {0xFCC0, "manuSpecificLumi"},
    {0xFFFF, "manuSpecificLumiLegacy"},
};

const char *sim_zcl_cluster_name(uint16_t id) {
  for (size_t i = 0; i < sizeof cluster_names / sizeof cluster_names[0]; i++)
    if (cluster_names[i].id == id)
      return cluster_names[i].name;
  return NULL;
}

const char *sim_zcl_global_cmd_name(uint8_t c) {
  switch (c) {
  case 0x00:
    return "read_attributes";
  case 0x01:
    return "read_attributes_response";
  case 0x02:
    return "write_attributes";
  case 0x04:
    return "write_attributes_response";
  case 0x07:
    return "configure_reporting_response";
  case 0x0A:
    return "report_attributes";
  case 0x0B:
    return "default_response";
  default:
    return NULL;
  }
}

/* genBasic attributes every model answers without listing them (docs/catalog.md). */
const char *sim_zcl_basic_attr_name(uint16_t a) {
  switch (a) {
  case 0x0000:
    return "zclVersion";
  case 0x0001:
    return "applicationVersion";
  case 0x0003:
    return "hwVersion";
  case 0x0004:
    return "manufacturerName";
  case 0x0005:
    return "modelIdentifier";
  case 0x0007:
    return "powerSource";
  case 0x4000:
    return "swBuildId";
  default:
    return NULL;
  }
}
