/* Debian's mosquitto (/usr/sbin/mosquitto, or $HUBSIM_MOSQUITTO) as a child process on a free
 * loopback port, for the MQTT tests: started with a configuration written into a folder of the
 * test's, stopped (SIGTERM: it saves its persistence file), killed (SIGKILL), restarted on the
 * same port, paused (SIGSTOP: it reads nothing, the kernel keeps what clients send).
 *
 * Ownership: the caller owns struct broker; broker_stop() or broker_kill() reaps the child. */
#ifndef TESTS_SUPPORT_BROKER_H
#define TESTS_SUPPORT_BROKER_H

#include <stdint.h>
#include <sys/types.h>

struct broker {
  pid_t pid;
  uint16_t port;
  int persistence;     /* keep sessions and messages in dir/mosquitto.db across restarts */
  unsigned max_queued; /* messages queued per client before mosquitto drops; 0: 10000 */
  char passwd[300];    /* a mosquitto password file ("" for anonymous access) */
  char tls_cert[300], tls_key[300]; /* PEM files: the listener speaks TLS (mqtts://) */
  /* With tls_cert: PEM CA file; every client of the TLS listener must present a certificate
   * from it, whose CN becomes its user name (require_certificate, use_identity_as_username). */
  char tls_client_ca[300];
  /* Out, with tls_client_ca: a second, plain listener (a free port) for clients without a
   * certificate, such as a platform subscribing behind the hubs. */
  uint16_t plain_port;
  char dir[256]; /* the configuration, log and persistence live here */
  char conf[300];
  char log[300];
};

/* Starts mosquitto with b->persistence and b->passwd as set by the caller, on port (0: a free
 * port found by binding 127.0.0.1:0; mosquitto failing to bind it is retried on another, a few
 * times), and waits up to 10 s until it accepts a connection. dir must exist. 0 or a negative
 * error. */
int broker_start(struct broker *b, const char *dir, uint16_t port);
/* SIGTERM and wait (up to 10 s, then SIGKILL). Returns its exit status or < 0. */
int broker_stop(struct broker *b);
/* SIGKILL and wait: nothing saved since the last save. */
void broker_kill(struct broker *b);
/* SIGSTOP (paused != 0) or SIGCONT. */
void broker_pause(struct broker *b, int paused);
/* Starts it again on the same port (after broker_stop or broker_kill); retries while the port
 * is still held, for up to 10 s. */
int broker_restart(struct broker *b);
/* Writes a password file with one user (mosquitto_passwd -b) into path. 0 or < 0. */
int broker_passwd(const char *path, const char *user, const char *password);

#endif
