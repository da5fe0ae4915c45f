/* The common part of bench/mqtt's C generators (floor.c, mosq.c): options, the clocks, the
 * publish schedule and the phases every generator runs in the same order, so that the only
 * difference between two generators is how they speak MQTT.
 *
 * Phases (gen_run): connect every hub (at most `window` CONNECTs unanswered at a time) until all
 * are CONNACKed or failed; stay idle `idle` ms and read the process's RSS; publish one QoS 1
 * message per hub per `interval` ms for `duration` ms, spread evenly over the interval; wait
 * up to `drain` ms for the last PUBACKs; print one JSON object on stdout.
 *
 * Single-threaded: everything here runs on the generator's only thread. */
#ifndef BENCH_MQTT_GEN_H
#define BENCH_MQTT_GEN_H

#include <stddef.h>

struct gen_opts {
  const char *host;       /* broker address, numeric IPv4 (borrowed from argv) */
  int port;               /* broker port */
  int hubs;               /* connections, one per hub */
  int window;             /* CONNECTs in flight at most */
  int interval_ms;        /* each hub publishes once per interval */
  int duration_ms;        /* length of the publish phase (0: no publishing) */
  int idle_ms;            /* idle time between the last CONNACK and the RSS reading */
  int drain_ms;           /* how long to wait for PUBACKs after the last publish */
  int connect_timeout_ms; /* the connect phase gives up after this long */
  int payload;            /* bytes per publish */
  int keepalive;          /* seconds, sent in CONNECT */
  const char *name;       /* client ids are NAME-i, topics bench/NAME/i (borrowed) */
};

/* Counters the generator's callbacks update; gen_run reads them. */
struct gen_stats {
  long connected;       /* CONNACK with return code 0 */
  long connect_failed;  /* refused, reset or timed out before CONNACK */
  long closed;          /* connections lost after CONNACK */
  long sent;            /* QoS 1 publishes handed to the connection */
  long acked;           /* PUBACKs received */
  long errors;          /* anything else unexpected (bad packet, short write) */
  char first_error[96]; /* why the first connect failed, "" if none did or nobody said */
};

/* What a generator does; each returns 0 or -1 (the failure is counted by the callee). */
struct gen_ops {
  int (*connect)(void *ctx, int hub); /* start connecting hub `hub` (0 <= hub < hubs) */
  int (*publish)(void *ctx, int hub, const char *topic, const char *payload, size_t len);
  /* Wait at most ~10 ms for network events and handle them; called in every phase. */
  void (*poll)(void *ctx);
};

/* Parses argv into *o (defaults first); prints usage and exits 2 on a bad flag. */
void gen_opts_parse(struct gen_opts *o, int argc, char **argv, const char *prog);

/* Runs the phases described above and prints the JSON line. Returns the exit code: 0 when every
 * hub connected and acked == sent, 1 otherwise (the figures are printed either way). */
int gen_run(const char *generator, const struct gen_opts *o, struct gen_stats *s,
            const struct gen_ops *ops, void *ctx);

double gen_mono(void);

/* Keeps `why` as the reason of the first failed connect (later ones are only counted). */
void gen_note_error(struct gen_stats *s, const char *why);

#endif
