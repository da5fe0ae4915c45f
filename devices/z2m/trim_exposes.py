#!/usr/bin/env python3
"""Writes devices/z2m/models.json from a zigbee2mqtt-exposes.json facts file (schema
zigbee2mqtt-exposes/1): per Zigbee model id, the definition zigbee2mqtt publishes in
bridge/devices (exposes with linkquality appended, options), the rest of that bridge/devices
element (endpoints, power source, type), the battery meta and the Home Assistant discovery
configs. Placeholders (ieee_address, network_address, friendly_name) are dropped: the hub fills
them per device. Run by hand when the facts change:
    python3 devices/z2m/trim_exposes.py FACTS.json > devices/z2m/models.json
"""
import json
import re
import sys

KEEP_ENTRY = ("definition", "disabled", "endpoints", "interview_completed", "interview_state",
              "interviewing", "manufacturer", "model_id", "power_source", "supported", "type")


def main(path):
    facts = json.load(open(path, encoding="utf-8"))
    out = {"schema": "hubsim-z2m/1", "source": facts["versions"],
           "linkquality_expose": facts["linkquality_expose"],
           "coordinator": facts["coordinator_bridge_devices_entry"], "models": {}}
    models = facts["models"]
    for model_id, m in sorted(models.items()):
        entry = m["bridge_devices_entry"]
        ha = m.get("homeassistant_discovery", [])
        # A model id sharing another's definition is given as a sentence naming that model.
        if isinstance(entry, str):
            base = models[re.search(r'models\["([^"]+)"\]', entry).group(1)]
            entry = dict(base["bridge_devices_entry"], model_id=model_id)
            ha = base["homeassistant_discovery"]
        out["models"][model_id] = {
            "bridge": {k: entry[k] for k in KEEP_ENTRY if k in entry},
            "meta": m.get("meta", {}),
            "homeassistant": ha,
        }
    json.dump(out, sys.stdout, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
