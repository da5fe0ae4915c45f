/* ZCL (Zigbee Cluster Library) data types and the hub-side decoder of attribute records.
 *
 * The encoder lives in devices/ (it is what a device does); decoding is what a hub does before
 * forwarding a report, so it lives here. Both share the type table below.
 * Bytes decoded here come from device models and, in tests, from anywhere: malformed input
 * returns SIM_EMALFORMED and never reads past the given length. */
#ifndef SIM_WIRE_ZCL_H
#define SIM_WIRE_ZCL_H

#include <stddef.h>
#include <stdint.h>

enum sim_zcl_kind {
  SIM_ZCL_KIND_UNKNOWN = 0,
  SIM_ZCL_KIND_BOOL,   /* 0x10 */
  SIM_ZCL_KIND_UINT,   /* 0x08-0x0F data, 0x18-0x1F bitmap, 0x20-0x27 uint, 0x30-0x31 enum */
  SIM_ZCL_KIND_INT,    /* 0x28-0x2F */
  SIM_ZCL_KIND_FLOAT,  /* 0x38 semi, 0x39 single, 0x3A double */
  SIM_ZCL_KIND_OCTETS, /* 0x41 octet string (1-byte length), 0x43 long octet string */
  SIM_ZCL_KIND_STRING, /* 0x42 char string (1-byte length), 0x44 long char string */
  SIM_ZCL_KIND_STRUCT, /* 0x4C struct */
};

/* Type ids of the types the device catalogue uses (docs/catalog.md "ZCL type names"). */
#define SIM_ZCL_T_BOOL 0x10
#define SIM_ZCL_T_BITMAP8 0x18
#define SIM_ZCL_T_BITMAP16 0x19
#define SIM_ZCL_T_BITMAP32 0x1B
#define SIM_ZCL_T_UINT8 0x20
#define SIM_ZCL_T_UINT16 0x21
#define SIM_ZCL_T_UINT24 0x22
#define SIM_ZCL_T_UINT32 0x23
#define SIM_ZCL_T_UINT40 0x24
#define SIM_ZCL_T_UINT48 0x25
#define SIM_ZCL_T_INT8 0x28
#define SIM_ZCL_T_INT16 0x29
#define SIM_ZCL_T_INT24 0x2A
#define SIM_ZCL_T_INT32 0x2B
#define SIM_ZCL_T_ENUM8 0x30
#define SIM_ZCL_T_ENUM16 0x31
#define SIM_ZCL_T_SINGLE 0x39
#define SIM_ZCL_T_DOUBLE 0x3A
#define SIM_ZCL_T_OCTSTR 0x41
#define SIM_ZCL_T_STRING 0x42

/* One table in zcl.c holds what hubsim knows of every ZCL type: its name, size and kind. */

/* The catalogue's name of a type id ("uint16", "float" for single, "octstr", "string"...), or
 * NULL for a type the catalogue does not name. */
const char *sim_zcl_type_name(uint8_t type);
/* The catalogue's name, or the name hubsim prints for a few other types a decoder may meet
 * ("semi", "uint64", "long_octstr", "long_string", "struct"...); NULL for the rest. */
const char *sim_zcl_type_label(uint8_t type);
/* The type id of a catalogue type name, or -1 when the name is not one of them. */
int sim_zcl_type_from_name(const char *name);

/* Fixed size in bytes of a value of type, 0 for variable-length types, -1 when unknown. */
int sim_zcl_type_size(uint8_t type);
enum sim_zcl_kind sim_zcl_type_kind(uint8_t type);
/* Bytes of the length ahead of a string's value: 1 for octstr and string (0x41, 0x42), 2 for
 * their long forms (0x43, 0x44), 0 for every other type (structs included). */
int sim_zcl_type_len_size(uint8_t type);

/* ZCL frame control bits. */
#define SIM_ZCL_FC_CLUSTER_SPECIFIC 0x01
#define SIM_ZCL_FC_MANUFACTURER 0x04
#define SIM_ZCL_FC_SERVER_TO_CLIENT 0x08
#define SIM_ZCL_FC_DISABLE_DEFAULT_RSP 0x10

/* ZCL status codes (ZCL specification, "Status Enumerations"): what a device answers in a
 * Default Response or a response record, and the status a command's result carries to the
 * platform (sim_model_ops.command returns one). */
#define SIM_ZCL_STATUS_SUCCESS 0x00
#define SIM_ZCL_STATUS_FAILURE 0x01
#define SIM_ZCL_STATUS_MALFORMED_COMMAND 0x80
#define SIM_ZCL_STATUS_UNSUP_CLUSTER_COMMAND 0x81
#define SIM_ZCL_STATUS_UNSUP_GENERAL_COMMAND 0x82
#define SIM_ZCL_STATUS_UNSUP_MANUF_CLUSTER_COMMAND 0x83
#define SIM_ZCL_STATUS_UNSUP_MANUF_GENERAL_COMMAND 0x84
#define SIM_ZCL_STATUS_INVALID_FIELD 0x85
#define SIM_ZCL_STATUS_UNSUPPORTED_ATTRIBUTE 0x86
#define SIM_ZCL_STATUS_INVALID_VALUE 0x87
#define SIM_ZCL_STATUS_READ_ONLY 0x88
#define SIM_ZCL_STATUS_INSUFFICIENT_SPACE 0x89
#define SIM_ZCL_STATUS_NOT_FOUND 0x8B
#define SIM_ZCL_STATUS_UNREPORTABLE_ATTRIBUTE 0x8C
#define SIM_ZCL_STATUS_INVALID_DATA_TYPE 0x8D

/* Global command ids used by hubs and devices here. */
#define SIM_ZCL_CMD_READ_ATTR 0x00
#define SIM_ZCL_CMD_READ_ATTR_RSP 0x01
#define SIM_ZCL_CMD_WRITE_ATTR 0x02
#define SIM_ZCL_CMD_WRITE_ATTR_RSP 0x04
#define SIM_ZCL_CMD_CONFIG_REPORT 0x06
#define SIM_ZCL_CMD_CONFIG_REPORT_RSP 0x07
#define SIM_ZCL_CMD_REPORT_ATTR 0x0A
#define SIM_ZCL_CMD_DEFAULT_RSP 0x0B

struct sim_zcl_header {
  uint8_t frame_control;
  uint16_t manufacturer_code; /* 0 when the manufacturer bit is clear */
  uint8_t tsn;
  uint8_t command;
  size_t header_len; /* 3 or 5 */
};

/* Parses the ZCL header of frame p[0..n). 0 or SIM_EMALFORMED. */
int sim_zcl_parse_header(const uint8_t *p, size_t n, struct sim_zcl_header *h);

/* One decoded attribute (or TLV member). Strings point into the decoded frame (borrowed). */
struct sim_zcl_attr {
  uint16_t id;  /* attribute id, or the TLV tag for a member */
  uint8_t type; /* ZCL type id */
  uint8_t kind; /* enum sim_zcl_kind */
  union {
    int64_t i;
    uint64_t u;
    double f;
    int b;
  } v;
  const uint8_t *data; /* OCTETS / STRING / STRUCT: the value bytes, without length prefix */
  uint16_t len;
  uint16_t first_member; /* TLV members: index into the same output array */
  uint16_t n_members;
};

/* Decodes the attribute records of a whole ZCL frame (header included) when its command is
 * Report Attributes (0x0A) or Read Attributes Response (0x01, records with status != 0 are
 * skipped). The Xiaomi TLV lists are decoded into members too: attribute 0xFF01 of type 0x42
 * on cluster 0x0000 and attribute 0x00F7 of type 0x41 on cluster 0xFCC0.
 * Top-level attributes come first in out[0..*n_top); members follow, up to *n_total.
 * Other commands decode to zero attributes and succeed.
 * 0, SIM_EMALFORMED (truncated or unknown type), SIM_EFULL (cap too small). */
int sim_zcl_decode_attrs(uint16_t cluster, const uint8_t *p, size_t n, struct sim_zcl_attr *out,
                         size_t cap, size_t *n_top, size_t *n_total);

/* One status record of a response frame:
 * - Default Response (0x0B): command = the command answered, status; attr = 0.
 * - Write Attributes Response (0x04) and Configure Reporting Response (0x07): status, attr
 *   (and direction for 0x07). A response whose every write succeeded is the single byte 0x00,
 *   decoded as one record {status 0, attr 0xFFFF}. */
struct sim_zcl_status {
  uint8_t status;
  uint8_t command;
  uint8_t direction;
  uint16_t attr;
};

/* Decodes the status records of a whole ZCL frame (header included) whose command is one of
 * the three above (global frame type); *n_out gets the count. Any other command decodes to
 * zero records and succeeds. 0, SIM_EMALFORMED (truncated or trailing bytes), SIM_EFULL. */
int sim_zcl_decode_status(const uint8_t *p, size_t n, struct sim_zcl_status *out, size_t cap,
                          size_t *n_out);

#endif
