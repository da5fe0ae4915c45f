/* What `hubsim devices show` prints of the links the catalogue makes between a model's parts:
 * the attributes a report frame carries besides its own (`same_frame`), the channel whose events
 * send a pending change at once (`at_once_with`), the steps a command takes besides its own
 * (`then`) and the chains between channels (`chains`). docs/catalog.md defines them;
 * docs/devices-cli.md the output. Pure formatting: nothing here owns or keeps anything. */
#ifndef APP_DEVICES_LINKS_H
#define APP_DEVICES_LINKS_H

#include <jansson.h>

#include "devices/cat_types.h"

/* Adds "same_frame" (names) and "at_once_with" (a channel or null) to attribute object j. */
void app_devices_attr_links_json(json_t *j, const struct dev_cat_model *cm,
                                 const struct dev_cat_attr *a);
/* Adds "then" (steps, possibly empty) to command object j. */
void app_devices_cmd_links_json(json_t *j, const struct dev_cat_model *cm,
                                const struct dev_cat_command *k);
/* Adds "chains" (possibly empty) to the model's object o. */
void app_devices_chains_json(json_t *o, const struct dev_cat_model *cm);

/* The text forms: an attribute's and a command's (appended to their line, nothing when they
 * have none) and the "chains" section (nothing for a model without chains). */
void app_devices_attr_links_text(const struct dev_cat_model *cm, const struct dev_cat_attr *a);
void app_devices_cmd_links_text(const struct dev_cat_model *cm, const struct dev_cat_command *k);
void app_devices_chains_text(const struct dev_cat_model *cm);

#endif
