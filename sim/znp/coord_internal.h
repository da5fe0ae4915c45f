/* Between the files of the coordinator (coord.c: life cycle, dispatch, SYS, UTIL, APP_CNF and
 * the network; coord_zdo.c: ZDO and AF). Not for other modules. */
#ifndef SIM_ZNP_COORD_INTERNAL_H
#define SIM_ZNP_COORD_INTERNAL_H

#include "sim/znp/coord.h"

/* What a subsystem handler did with a request. */
enum sim__znp_handled {
  SIM__ZNP_DONE = 0,      /* answered */
  SIM__ZNP_UNKNOWN = 1,   /* not a command this coordinator serves */
  SIM__ZNP_MALFORMED = 2, /* known, but its payload is short or inconsistent */
};

/* Encodes f and sends it to the host (errors counted). */
void sim__znp_emit(struct sim_znp_coord *c, const struct sim_znp_frame *f);
/* Sends an SRSP carrying one status byte (most SREQs are answered so). */
void sim__znp_status(struct sim_znp_coord *c, uint8_t subsys, uint8_t cmd, uint8_t status);
/* Starts the network from NV: forms it (NIB, keys) when NV has none, then reports the device
 * states up to coordinator. Returns whether a new network was formed (1) or restored (0). */
int sim__znp_start_network(struct sim_znp_coord *c);
/* The PAN id, channel and extended PAN id of the running network (from the NIB); 0, or
 * SIM_ENOTFOUND before one is formed. */
int sim__znp_nwk_params(const struct sim_znp_coord *c, uint16_t *pan, uint8_t *channel,
                        uint64_t *ext_pan);

/* A joined device's node descriptor (coord_dev.c). */
void sim__znp_dev_node_desc(const struct sim_znp_dev *d, struct sim_znp_node_desc *out);
/* A joined device's endpoint ep as an AF registration would give it; 0 or SIM_ENOTFOUND. */
int sim__znp_dev_ep(const struct sim_znp_dev *d, uint8_t ep, struct sim_znp_ep *out);

/* The joined device with IEEE address ieee, or NULL. */
struct sim_znp_dev *sim__znp_dev_by_ieee(struct sim_znp_coord *c, uint64_t ieee);
/* Forgets the joined device d (it left the network); later devices move down one place. */
void sim__znp_dev_remove(struct sim_znp_coord *c, struct sim_znp_dev *d);

/* A ZCL frame from the host to a joined device's endpoint ep: run by the model's behaviour,
 * whose answers reach the host as AF_INCOMING_MSG. 0, or SIM_EMALFORMED (no ZCL header). */
int sim__znp_dev_zcl(struct sim_znp_coord *c, struct sim_znp_dev *d, uint8_t ep, uint16_t cluster,
                     const uint8_t *zcl, size_t len);

/* What any reset loses, the RAM of a real radio: the network stops (HOLD), AF registrations,
 * groups, the permit-join window and the BDB channel masks go; SYS_RESET_IND with reason (0
 * power-up, 1 external, 2 watchdog) follows. NV and the joined devices stay. */
void sim__znp_reset_ram(struct sim_znp_coord *c, uint8_t reason);

/* coord_ctl.c: the radio side as a scenario script changes it. */
/* MAC_NO_ACK: what AF_DATA_CONFIRM carries when the next hop never acknowledged the frame. */
#define SIM__ZNP_ST_MAC_NO_ACK 0xE9
/* Whether device d and the coordinator hear each other now: not while d is out of range
 * (sim_znp_coord_ctl_link_loss) nor while the network is down (after a reset). */
int sim__znp_ctl_in_range(const struct sim_znp_coord *c, const struct sim_znp_dev *d);
/* Whether d leaves this ZDO request unanswered (sim_znp_coord_ctl_drop_zdo, or out of range);
 * one of its dropped answers is spent. */
int sim__znp_ctl_zdo_lost(struct sim_znp_coord *c, struct sim_znp_dev *d);

/* The NV tables of joined devices (coord_tables.c). SYS_NV_CREATE, _DELETE, _LENGTH, _READ and
 * _WRITE on the extended items. */
enum sim__znp_handled sim__znp_sys_nv(struct sim_znp_coord *c, const struct sim_znp_frame *f);
/* Device d joined: its address manager and TCLK entries are written and NV saved. */
void sim__znp_tables_joined(struct sim_znp_coord *c, const struct sim_znp_dev *d);
/* The device ieee left: its entries are emptied and NV saved. */
void sim__znp_tables_left(struct sim_znp_coord *c, uint64_t ieee);
/* The factory tables: every extended item gone, the security manager table empty (created
 * when missing). 0 or SIM_E*. NV is not saved. */
int sim__znp_tables_reset(struct sim_znp_coord *c);
/* Saves NV; a failure is counted and logged (coord.c). */
int sim__znp_nv_save(struct sim_znp_coord *c);

/* ZDO_MGMT_LQI_REQ and ZDO_MGMT_RTG_REQ: the network map (coord_map.c). */
enum sim__znp_handled sim__znp_mgmt_table(struct sim_znp_coord *c, const struct sim_znp_frame *f);

/* coord_radio.c: a device's ZCL frame on its way to the host (encoded and sent as
 * AF_INCOMING_MSG at once, later, or never); 0 or SIM_ETOOBIG (dropped, counted). */
int sim__znp_radio_up(struct sim_znp_coord *c, struct sim_znp_dev *d, uint8_t ep, uint16_t cluster,
                      const uint8_t *zcl, size_t len);
/* An AF data request of the host to joined device d, after its SRSP: the confirm and the
 * device's handling, at once or later (radio, a sleepy device's poll), or a failure confirm. */
void sim__znp_radio_down(struct sim_znp_coord *c, struct sim_znp_dev *d,
                         const struct sim_znp_af_req *req);
/* Handles the frames in the air due at now (µs); the earliest due one (µs), or 0: none. */
void sim__znp_radio_tick(struct sim_znp_coord *c, sim_time_t now);
sim_time_t sim__znp_radio_next_due(const struct sim_znp_coord *c);
void sim__znp_radio_fini(struct sim_znp_coord *c);

enum sim__znp_handled sim__znp_zdo(struct sim_znp_coord *c, const struct sim_znp_frame *f);
enum sim__znp_handled sim__znp_af(struct sim_znp_coord *c, const struct sim_znp_frame *f);

#endif
