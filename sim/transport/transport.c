/* The one entry point shared by every transport: freeing. The ops table has no free member
 * (transport.h is fixed), so the implementation is found from the ops pointer. */
#include <assert.h>

#include "sim/transport/internal.h"

void sim_transport_free(struct sim_transport *t) {
  if (!t)
    return;
  if (t->ops == &sim__transport_tcp_ops)
    sim__transport_tcp_free(t);
  else if (t->ops == &sim__transport_mem_ops)
    sim__transport_mem_free(t);
  else if (t->ops == &sim__transport_tls_ops)
    sim__transport_tls_free(t);
  else if (t->ops == &sim__transport_mqtt_ops)
    sim__transport_mqtt_free(t);
  else
    assert(!"sim_transport_free: unknown transport");
}
