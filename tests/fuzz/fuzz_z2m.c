/* Fuzzes the zigbee2mqtt profile's inputs from the outside: /set and /get payloads as an MQTT
 * client publishes them (dev_z2m_parse_set/_get, with the endpoint and attribute forms of the
 * topic), command topics (dev_z2m_parse_topic), and ZCL frames as a device sends them to its
 * hub (dev_z2m_dev_frame, then the state message built from what they left in the cache).
 *
 * Input: byte 0 chooses the entry point (low 2 bits) and the topic form (bits 2..3), byte 1 the
 * model (an index into the definitions); for a frame, bytes 2..5 are the endpoint, the cluster
 * (little-endian) and the link quality, and the rest is the frame; otherwise the rest is the
 * payload or the topic. Inputs reach past the payload limit of 4096 bytes (fuzz_z2m.args); a
 * ZCL frame a device sends is far shorter, so frames are covered up to the same length.
 *
 * What the parsers return must hold to their contract: at most DEV_Z2M_CMDS_MAX commands, each
 * payload within its bytes; an error has a NUL-terminated message. Anything else aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/z2m.h"
#include "sim/core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int known(void *arg, const char *name) {
  (void)arg;
  return strcmp(name, "hall/bulb") == 0 || strcmp(name, "0x00158d0001a2b3c4") == 0 ||
         strcmp(name, "plug") == 0;
}

static void check_cmds(int rc, const struct dev_z2m_cmds *out, const struct dev_z2m_err *err) {
  if (rc == 0) {
    if (out->n > DEV_Z2M_CMDS_MAX)
      abort();
    for (size_t i = 0; i < out->n; i++) {
      const struct dev_z2m_cmd *c = &out->c[i];
      if (c->cmd.len > DEV_Z2M_CMD_BYTES ||
          (c->cmd.len && (c->cmd.payload < c->bytes ||
                          c->cmd.payload + c->cmd.len > c->bytes + DEV_Z2M_CMD_BYTES)))
        abort();
    }
  } else if (rc == SIM_EINVAL && !memchr(err->message, 0, sizeof err->message)) {
    abort();
  }
}

static void fuzz_frame(const char *model, const uint8_t *data, size_t size) {
  struct dev_z2m_dev zd;
  if (size < 4 || dev_z2m_dev_init(&zd, model))
    return;
  int changed = 0;
  uint16_t cluster = (uint16_t)(data[1] | data[2] << 8);
  /* Twice: the second frame meets the cache the first one left. */
  dev_z2m_dev_frame(&zd, data[3], data[0], cluster, data + 4, size - 4, &changed);
  dev_z2m_dev_frame(&zd, data[3], data[0], cluster, data + 4, size - 4, &changed);
  free(dev_z2m_dev_state(&zd));
  dev_z2m_dev_fini(&zd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const eps[] = {NULL, "l1", "left", "right"};
  static const char *const attrs[] = {NULL, "state", "brightness", "position"};
  if (size < 2)
    return 0;
  size_t n_models;
  const char *const *ids = dev_z2m_model_ids(&n_models);
  if (!n_models)
    abort(); /* the embedded definitions did not load: a build defect */
  const char *model = ids[data[1] % n_models];
  int mode = data[0] & 3, form = (data[0] >> 2) & 3;
  const char *ep = eps[form & 1 ? form : 0], *attr = attrs[form & 2 ? form : 0];
  data += 2;
  size -= 2;
  if (mode == 3) {
    fuzz_frame(model, data, size);
    return 0;
  }
  if (mode == 2) {
    struct dev_z2m_topic t;
    if (dev_z2m_parse_topic("zigbee2mqtt", (const char *)data, size, known, NULL, &t) == 0 &&
        (!memchr(t.name, 0, sizeof t.name) || !memchr(t.endpoint, 0, sizeof t.endpoint) ||
         !memchr(t.attr, 0, sizeof t.attr)))
      abort();
    return 0;
  }
  struct dev_z2m_dev zd;
  if (dev_z2m_dev_init(&zd, model))
    return 0;
  struct dev_z2m_cmds out;
  struct dev_z2m_err err;
  int rc =
      mode == 0
          ? dev_z2m_parse_set(&zd, "hall/bulb", ep, attr, (const char *)data, size, &out, &err)
          : dev_z2m_parse_get(&zd, "hall/bulb", ep, attr, (const char *)data, size, &out, &err);
  check_cmds(rc, &out, &err);
  if (rc == SIM_EINVAL)
    free(dev_z2m_err_json(&err));
  dev_z2m_dev_fini(&zd);
  return 0;
}
