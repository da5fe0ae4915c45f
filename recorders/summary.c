#include "recorders/summary.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sim/core/err.h"

static const char *kind_names[SIM_SEQ_NKINDS] = {"reports", "device_joined", "device_left",
                                                 "command_results"};

void rec_verdict_compute(const struct rec_run_info *run, const struct sim_fleet_stats *st,
                         const struct rec_platform_view *pv, struct rec_verdict *v) {
  memset(v, 0, sizeof(*v));
  uint64_t sent = 0, acked = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++) {
    sent += st->kind[k].sent;
    acked += st->kind[k].acked;
  }
  v->lost = sent > acked + st->in_flight ? sent - acked - st->in_flight : 0;
  if (pv && pv->present)
    v->platform_gap = (int64_t)st->kind[SIM_SEQ_REPORT].acked - (int64_t)pv->reports_stored;
  double p99 = (double)sim_hist_quantile(&st->tick_lag, 0.99) / 1000.0;
  v->generator_late = st->tick_lag.count && p99 > run->max_lag_ms;
  v->never_online = st->sessions == 0;
  if (v->never_online) {
    v->exit_code = 3;
    v->text = "FAIL: no hub ever opened a session with the platform";
  } else if (v->lost) {
    v->exit_code = 1;
    v->text = "FAIL: messages were lost";
  } else if (st->forgotten) {
    v->exit_code = 1;
    v->text = "FAIL: the platform lost messages it had acknowledged";
  } else if (v->platform_gap > 0) {
    v->exit_code = 1;
    v->text = "FAIL: the platform stored fewer reports than it acknowledged";
  } else if (v->generator_late) {
    v->exit_code = 4;
    v->text = "FAIL: the generator could not keep its schedule (tick lag p99 above the limit); its "
              "figures are not trustworthy";
  } else {
    v->exit_code = 0;
    v->text = "PASS: every report accounted for";
  }
}

static double ms(uint64_t us) {
  return (double)us / 1000.0;
}

static void print_hist(FILE *out, const char *name, const struct sim_hist *h) {
  if (!h->count) {
    fprintf(out, "  %-22s no samples\n", name);
    return;
  }
  fprintf(out,
          "  %-22s p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms  (n=%llu)\n",
          name, ms(sim_hist_quantile(h, 0.5)), ms(sim_hist_quantile(h, 0.9)),
          ms(sim_hist_quantile(h, 0.99)), ms(sim_hist_quantile(h, 0.999)), ms(h->max),
          (unsigned long long)h->count);
}

void rec_summary_print(FILE *out, const struct rec_run_info *run, const struct sim_fleet_stats *st,
                       const struct rec_platform_view *pv, const struct rec_verdict *v) {
  const struct sim_seq_counts *r = &st->kind[SIM_SEQ_REPORT];
  fprintf(out, "\nhubsim run summary\n");
  fprintf(out, "  fleet                  %u hubs x %u devices = %u devices, seed %llu, mix %s\n",
          st->hubs, run->devices_per_hub, st->devices, (unsigned long long)run->seed,
          run->mix ? run->mix : "-");
  fprintf(out, "  platform               %s\n", run->platform_url);
  fprintf(out, "  time                   %.1f s requested, %.1f s elapsed\n", run->duration_s,
          run->elapsed_s);
  fprintf(out,
          "  sessions               %llu connects, %llu opened, %llu dropped, %u online at end\n",
          (unsigned long long)st->connects, (unsigned long long)st->sessions,
          (unsigned long long)st->disconnects, st->hubs_by_state[SIM_HUB_OPEN]);
  fprintf(out,
          "  reports                generated %llu  sent %llu  acked %llu  resent %llu  "
          "dropped %llu\n",
          (unsigned long long)r->generated, (unsigned long long)r->sent,
          (unsigned long long)r->acked, (unsigned long long)r->resent,
          (unsigned long long)r->dropped);
  for (int k = 1; k < SIM_SEQ_NKINDS; k++) {
    const struct sim_seq_counts *c = &st->kind[k];
    if (c->generated)
      fprintf(out, "  %-22s generated %llu  sent %llu  acked %llu  resent %llu\n", kind_names[k],
              (unsigned long long)c->generated, (unsigned long long)c->sent,
              (unsigned long long)c->acked, (unsigned long long)c->resent);
  }
  fprintf(out, "  accounting             in flight %llu  queued %llu  lost %llu\n",
          (unsigned long long)st->in_flight, (unsigned long long)st->queued,
          (unsigned long long)v->lost);
  if (st->forgotten)
    fprintf(out,
            "  platform loss          %llu messages acknowledged, then missing after a "
            "reconnect\n",
            (unsigned long long)st->forgotten);
  if (run->warmup_s > 0)
    fprintf(out, "  warm-up                latencies below leave out the first %.1f s\n",
            run->warmup_s);
  print_hist(out, "report ack latency", &st->ack_latency);
  print_hist(out, "report send lag", &st->send_lag);
  print_hist(out, "generator tick lag", &st->tick_lag);
  print_hist(out, "handshake", &st->handshake);
  uint64_t msgs = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    msgs += st->kind[k].sent + st->kind[k].resent;
  fprintf(out, "  generator              cpu %.2f s user + %.2f s sys", run->cpu_user_s,
          run->cpu_sys_s);
  if (msgs)
    fprintf(out, " = %.2f us per message sent",
            (run->cpu_user_s + run->cpu_sys_s) * 1e6 / (double)msgs);
  fprintf(out, "; peak RSS %.1f MiB%s\n", (double)run->max_rss_bytes / 1048576.0,
          run->platform_in_process ? " (with the embedded platform)"
          : run->workers > 1       ? " (worker processes, summed)"
                                   : "");
  if (st->all_online_at)
    fprintf(out, "  ramp                   all %u hubs online after %.2f s (%.0f hubs/s)\n",
            st->hubs, (double)st->all_online_at / 1e6,
            (double)st->hubs * 1e6 / (double)st->all_online_at);
  else
    fprintf(out, "  ramp                   %u of %u hubs were ever online\n", st->hubs_ever_online,
            st->hubs);
  fprintf(out, "  commands               received %llu  ok %llu  failed %llu\n",
          (unsigned long long)st->commands_received, (unsigned long long)st->commands_ok,
          (unsigned long long)st->commands_failed);
  if (st->cmds_held || st->cmds_expired)
    fprintf(out,
            "  sleepy devices         %llu commands held until the device polled, %llu "
            "expired unpolled\n",
            (unsigned long long)st->cmds_held, (unsigned long long)st->cmds_expired);
  if (st->radio_lost || st->radio_retries || st->air_full)
    fprintf(out,
            "  radio                  %llu device frames lost before the hub (never reported), "
            "%llu retries, %llu without an air slot\n",
            (unsigned long long)st->radio_lost, (unsigned long long)st->radio_retries,
            (unsigned long long)st->air_full);
  if (pv && pv->present)
    fprintf(out,
            "  platform counts        stored %llu reports, %llu duplicates dropped, %llu joins; "
            "commands sent %llu ok %llu failed %llu timed out %llu\n",
            (unsigned long long)pv->reports_stored, (unsigned long long)pv->duplicates,
            (unsigned long long)pv->joined, (unsigned long long)pv->commands_sent,
            (unsigned long long)pv->commands_ok, (unsigned long long)pv->commands_failed,
            (unsigned long long)pv->commands_timed_out);
  if (st->n_errors == 0) {
    fprintf(out, "  errors                 none\n");
  } else {
    fprintf(out, "  errors                ");
    for (size_t i = 0; i < st->n_errors; i++)
      fprintf(out, " %s=%llu", st->errors[i].name, (unsigned long long)st->errors[i].count);
    fputc('\n', out);
  }
  fprintf(out, "  verdict                %s\n", v->text);
}

static json_t *hist_json(const struct sim_hist *h) {
  json_t *o = json_object();
  json_object_set_new(o, "count", json_integer((json_int_t)h->count));
  if (h->count) {
    json_object_set_new(o, "min_ms", json_real(ms(h->min)));
    json_object_set_new(o, "p50_ms", json_real(ms(sim_hist_quantile(h, 0.5))));
    json_object_set_new(o, "p90_ms", json_real(ms(sim_hist_quantile(h, 0.9))));
    json_object_set_new(o, "p99_ms", json_real(ms(sim_hist_quantile(h, 0.99))));
    json_object_set_new(o, "p999_ms", json_real(ms(sim_hist_quantile(h, 0.999))));
    json_object_set_new(o, "max_ms", json_real(ms(h->max)));
    json_object_set_new(o, "mean_ms", json_real(ms(h->sum / h->count)));
  }
  return o;
}

static json_t *counts_json(const struct sim_seq_counts *c) {
  return json_pack("{s:I,s:I,s:I,s:I,s:I}", "generated", (json_int_t)c->generated, "dropped",
                   (json_int_t)c->dropped, "sent", (json_int_t)c->sent, "resent",
                   (json_int_t)c->resent, "acked", (json_int_t)c->acked);
}

int rec_summary_write(const char *path, const struct rec_run_info *run,
                      const struct sim_fleet_stats *st, const struct rec_platform_view *pv,
                      const struct rec_verdict *v) {
  json_t *root = json_object();
  json_object_set_new(root, "schema", json_string("hubsim.summary/1"));
  json_object_set_new(root, "started_at", json_string(run->started_at ? run->started_at : ""));
  json_object_set_new(root, "fleet",
                      json_pack("{s:I,s:I,s:I,s:s,s:I,s:f}", "hubs", (json_int_t)st->hubs,
                                "devices_per_hub", (json_int_t)run->devices_per_hub, "devices",
                                (json_int_t)st->devices, "mix", run->mix ? run->mix : "", "seed",
                                (json_int_t)run->seed, "ramp_hubs_per_s", run->ramp));
  json_object_set_new(root, "platform", json_string(run->platform_url));
  json_object_set_new(root, "run",
                      json_pack("{s:f,s:f,s:f,s:I,s:b,s:f}", "speedup", run->speedup, "drain_s",
                                run->drain_s, "max_lag_ms", run->max_lag_ms, "queue_max",
                                (json_int_t)run->queue_max, "allow_lag", run->allow_lag, "warmup_s",
                                run->warmup_s));
  json_object_set_new(root, "duration_s", json_real(run->duration_s));
  json_object_set_new(root, "elapsed_s", json_real(run->elapsed_s));
  json_t *counts = json_object();
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    json_object_set_new(counts, kind_names[k], counts_json(&st->kind[k]));
  json_object_set_new(counts, "in_flight", json_integer((json_int_t)st->in_flight));
  json_object_set_new(counts, "queued", json_integer((json_int_t)st->queued));
  json_object_set_new(counts, "lost", json_integer((json_int_t)v->lost));
  json_object_set_new(counts, "forgotten_by_platform", json_integer((json_int_t)st->forgotten));
  json_object_set_new(counts, "duplicated",
                      json_integer(pv && pv->present ? (json_int_t)pv->duplicates : -1));
  json_object_set_new(root, "counts", counts);
  json_object_set_new(root, "sessions",
                      json_pack("{s:I,s:I,s:I,s:I,s:I}", "connects", (json_int_t)st->connects,
                                "opened", (json_int_t)st->sessions, "dropped",
                                (json_int_t)st->disconnects, "online_at_end",
                                (json_int_t)st->hubs_by_state[SIM_HUB_OPEN], "heartbeats_sent",
                                (json_int_t)st->heartbeats_sent));
  json_t *lat = json_object();
  json_object_set_new(lat, "report_ack", hist_json(&st->ack_latency));
  json_object_set_new(lat, "report_send_lag", hist_json(&st->send_lag));
  json_object_set_new(lat, "generator_tick_lag", hist_json(&st->tick_lag));
  json_object_set_new(lat, "handshake", hist_json(&st->handshake));
  json_object_set_new(root, "latency", lat);
  uint64_t msgs = 0;
  for (int k = 0; k < SIM_SEQ_NKINDS; k++)
    msgs += st->kind[k].sent + st->kind[k].resent;
  json_t *gen = json_pack("{s:f,s:f,s:I,s:b}", "cpu_user_s", run->cpu_user_s, "cpu_sys_s",
                          run->cpu_sys_s, "max_rss_bytes", (json_int_t)run->max_rss_bytes,
                          "platform_in_process", run->platform_in_process);
  json_object_set_new(gen, "workers", json_integer(run->workers ? run->workers : 1));
  json_object_set_new(gen, "cpu_us_per_message",
                      msgs ? json_real((run->cpu_user_s + run->cpu_sys_s) * 1e6 / (double)msgs)
                           : json_null());
  json_object_set_new(root, "generator", gen);
  json_object_set_new(
      root, "ramp",
      json_pack("{s:I,s:o}", "hubs_ever_online", (json_int_t)st->hubs_ever_online, "all_online_s",
                st->all_online_at ? json_real((double)st->all_online_at / 1e6) : json_null()));
  json_object_set_new(
      root, "commands",
      json_pack("{s:I,s:I,s:I,s:I,s:I}", "received", (json_int_t)st->commands_received, "ok",
                (json_int_t)st->commands_ok, "failed", (json_int_t)st->commands_failed,
                "held_for_poll", (json_int_t)st->cmds_held, "expired_unpolled",
                (json_int_t)st->cmds_expired));
  json_object_set_new(root, "radio",
                      json_pack("{s:I,s:I,s:I}", "lost", (json_int_t)st->radio_lost, "retries",
                                (json_int_t)st->radio_retries, "no_air_slot",
                                (json_int_t)st->air_full));
  json_object_set_new(root, "traffic",
                      json_pack("{s:I,s:I,s:I,s:I}", "frames_out", (json_int_t)st->frames_out,
                                "frames_in", (json_int_t)st->frames_in, "bytes_out",
                                (json_int_t)st->bytes_out, "bytes_in", (json_int_t)st->bytes_in));
  json_t *errs = json_object();
  for (size_t i = 0; i < st->n_errors; i++)
    json_object_set_new(errs, st->errors[i].name, json_integer((json_int_t)st->errors[i].count));
  json_object_set_new(root, "errors", errs);
  if (pv && pv->present)
    json_object_set_new(
        root, "platform_counts",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "reports_stored",
                  (json_int_t)pv->reports_stored, "duplicates", (json_int_t)pv->duplicates,
                  "joined", (json_int_t)pv->joined, "commands_sent", (json_int_t)pv->commands_sent,
                  "commands_ok", (json_int_t)pv->commands_ok, "commands_failed",
                  (json_int_t)pv->commands_failed, "commands_timed_out",
                  (json_int_t)pv->commands_timed_out, "sessions_accepted",
                  (json_int_t)pv->sessions_accepted, "auth_failed", (json_int_t)pv->auth_failed));
  else
    json_object_set_new(root, "platform_counts", json_null());
  json_object_set_new(root, "verdict",
                      json_pack("{s:i,s:s,s:b}", "exit_code", v->exit_code, "text", v->text,
                                "generator_late", v->generator_late));

  char tmp[4096];
  int rc = 0;
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
    json_decref(root);
    return SIM_EINVAL;
  }
  if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
    rc = errno ? -errno : SIM_EIO;
    unlink(tmp);
  } else if (rename(tmp, path) != 0) {
    rc = -errno;
    unlink(tmp);
  }
  json_decref(root);
  return rc;
}
