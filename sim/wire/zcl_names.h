/* The names of ZCL things a frame carries by number: clusters, the global (profile-wide)
 * commands and the genBasic attributes. They are what a decoder shows beside the numbers; the
 * cluster names follow the zigbee-herdsman spelling (genOnOff, msTemperatureMeasurement).
 * Type names are in sim/wire/zcl.h (sim_zcl_type_label), with the type table.
 *
 * Every function returns a static string, or NULL for a number without a name here. */
#ifndef SIM_WIRE_ZCL_NAMES_H
#define SIM_WIRE_ZCL_NAMES_H

#include <stdint.h>

/* "genOnOff" for 0x0006. */
const char *sim_zcl_cluster_name(uint16_t cluster);
/* "report_attributes" for 0x0A: the global commands a device sends or a hub asks for. */
const char *sim_zcl_global_cmd_name(uint8_t command);
/* "modelIdentifier" for 0x0005: the genBasic attributes every model answers. */
const char *sim_zcl_basic_attr_name(uint16_t attr);

#endif
