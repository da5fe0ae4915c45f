/* Behaviour parameters of the process-wide catalogue (devices/cat_global.h) changed at run
 * time, by scenarios. */
#ifndef DEVICES_CAT_PARAMS_H
#define DEVICES_CAT_PARAMS_H

/* Changes a behaviour parameter of a model in the process-wide catalogue, for every device of
 * it (and of its aliases, which share its tables) from the next time the parameter is used:
 * e.g. ("lumi.weather", "temperature", "base", 25) for a warmer day. Parameters by channel
 * kind: walk base daily_amp peak_hour sigma revert min max spread sample_s toward_rate;
 * daylight max_lx night_lx sunrise_h sunset_h spread sample_s; bursts gap_day_s gap_night_s
 * length_s blind_s retrigger_s reset_s; two_state gap_day_s gap_night_s hold_min_s hold_max_s;
 * actuator min max travel_s local_s; meter load_min_w load_max_w noise_pct standby_w sample_s.
 * 0, SIM_ENOTFOUND (model, channel or parameter), SIM_EINVAL (a value the behaviour cannot
 * take: not finite, a negative period). Control part only (not thread-safe with a running
 * loop in another thread). */
int dev_cat_set_param(const char *model_id, const char *channel, const char *param, double value);

#endif
