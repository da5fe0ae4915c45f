/* Internal to sim/transport: what sim_transport_free() needs from each implementation.
 * Not for use outside this folder. */
#ifndef SIM_TRANSPORT_INTERNAL_H
#define SIM_TRANSPORT_INTERNAL_H

#include "sim/transport/transport.h"

/* Each frees a transport created by its own _new; called only by sim_transport_free(). */
void sim__transport_tcp_free(struct sim_transport *t);
void sim__transport_mem_free(struct sim_transport *t);
void sim__transport_tls_free(struct sim_transport *t);
void sim__transport_mqtt_free(struct sim_transport *t); /* sim/mqtt/stream.c */

/* The ops tables, so that sim_transport_free() can tell the implementations apart. */
extern const struct sim_transport_ops sim__transport_tcp_ops;
extern const struct sim_transport_ops sim__transport_mem_ops;
extern const struct sim_transport_ops sim__transport_tls_ops;
extern const struct sim_transport_ops sim__transport_mqtt_ops;

#endif
