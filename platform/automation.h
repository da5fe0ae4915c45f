/* Automations of the reference platform: rules ("when device A reports X, command device B")
 * and daily timers ("every day at 07:00, command device B"). Internal to platform/; the API is
 * in platform.h (plat_server_rule_add, plat_server_timer_add, ...).
 *
 * State: struct plat_auto, owned by the server (srv->autom), created by the first add, freed
 * by plat__auto_free from plat_server_free. One loop thread, like the server. */
#ifndef PLATFORM_AUTOMATION_H
#define PLATFORM_AUTOMATION_H

#include <stddef.h>
#include <stdint.h>

#include "platform/platform.h"
#include "sim/wire/hubrpc.h"

struct plat_server;
struct plat_auto;

/* Matches a Report the server has just accepted as new (borrowed for the call) against the
 * rules, and sends the commands of those that fire. Call only when srv->autom is set. */
void plat__auto_report(struct plat_server *srv, const Hubrpc__V1__Report *r);
/* PLAT_T_AUTO fired: runs every timer whose time has come and re-arms. */
void plat__auto_timer_cb(struct plat_server *srv);
/* Arms PLAT_T_AUTO at the earliest timer; recompute: first compute every timer's next time
 * from the wall clock now (at the start, and when the wall clock jumped). */
void plat__auto_arm(struct plat_server *srv, int recompute);
/* Called from the sweep (every 250 ms): notices a jump of the wall clock against the loop's
 * clock (a virtual driver registering the server's scheduler sets its wall-clock origin; a real
 * clock may be stepped) and then recomputes and re-arms the timers. */
void plat__auto_check_clock(struct plat_server *srv);
void plat__auto_free(struct plat_auto *a);

/* plat_server_rule_add / plat_server_timer_add, with the reason in words: on failure why (cap
 * bytes) says what is wrong (empty for SIM_ENOMEM); on success it holds a warning for the
 * caller to pass on (a rule that may trigger itself through conditions), or is empty. Nothing
 * is logged. */
int plat__rule_add(struct plat_server *srv, const struct plat_rule *r, uint64_t *id, char *why,
                   size_t cap);
int plat__timer_add(struct plat_server *srv, const struct plat_timer *t, uint64_t *id, char *why,
                    size_t cap);

#endif
