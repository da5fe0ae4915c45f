#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platproc.h"
#include "sim/core/err.h"

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A port that was free a moment ago: bind 127.0.0.1:0 and read it back. */
static int free_port(uint16_t *out) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int rc = 0;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len))
    rc = -errno;
  else
    *out = ntohs(a.sin_port);
  close(fd);
  return rc;
}

static int accepts(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_in a = {
      .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static int write_conf(const struct broker *b) {
  FILE *f = fopen(b->conf, "w");
  if (!f)
    return -errno;
  fprintf(f, "listener %u 127.0.0.1\n", b->port);
  if (b->tls_cert[0])
    fprintf(f, "certfile %s\nkeyfile %s\n", b->tls_cert, b->tls_key);
  if (b->tls_cert[0] && b->tls_client_ca[0])
    fprintf(f, "cafile %s\nrequire_certificate true\nuse_identity_as_username true\n",
            b->tls_client_ca);
  if (b->passwd[0])
    fprintf(f, "allow_anonymous false\npassword_file %s\n", b->passwd);
  else
    fprintf(f, "allow_anonymous true\n");
  /* mosquitto keeps Nagle's algorithm on unless told: every hop through it would wait for the
   * peer's delayed ACK (about 40 ms on loopback). */
  fprintf(f, "set_tcp_nodelay true\n");
  fprintf(f, "persistence %s\n", b->persistence ? "true" : "false");
  if (b->persistence)
    fprintf(f, "persistence_location %s/\n", b->dir);
  fprintf(f, "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n");
  fprintf(f, "max_queued_messages %u\n", b->max_queued ? b->max_queued : 10000u);
  /* Run as root, mosquitto changes to the user "mosquitto", which could not write here. */
  if (geteuid() == 0)
    fprintf(f, "user root\n");
  if (b->plain_port) /* last: the options above belong to the first listener */
    fprintf(f, "listener %u 127.0.0.1\n", b->plain_port);
  return fclose(f) ? -errno : 0;
}

/* One attempt on b->port: 0 when it accepts, SIM_EIO when mosquitto exited (the port taken). */
static int start_once(struct broker *b) {
  int rc = write_conf(b);
  if (rc)
    return rc;
  const char *bin = getenv("HUBSIM_MOSQUITTO");
  if (!bin)
    bin = "/usr/sbin/mosquitto";
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    platproc_child_dies_with_parent();
    int fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execl(bin, bin, "-c", b->conf, (char *)NULL);
    _exit(127);
  }
  b->pid = pid;
  double deadline = mono_s() + 10;
  while (mono_s() < deadline) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      b->pid = 0;
      return SIM_EIO;
    }
    if (accepts(b->port))
      return 0;
    usleep(5000);
  }
  broker_kill(b);
  return SIM_ETIMEOUT;
}

int broker_start(struct broker *b, const char *dir, uint16_t port) {
  snprintf(b->dir, sizeof b->dir, "%s", dir);
  snprintf(b->conf, sizeof b->conf, "%s/mosquitto.conf", dir);
  snprintf(b->log, sizeof b->log, "%s/mosquitto.log", dir);
  b->pid = 0;
  int rc = SIM_EIO;
  for (int attempt = 0; attempt < 5 && rc == SIM_EIO; attempt++) {
    b->port = port;
    b->plain_port = 0;
    if (!port && (rc = free_port(&b->port)))
      return rc;
    if (b->tls_client_ca[0] && (rc = free_port(&b->plain_port)))
      return rc;
    rc = start_once(b);
    if (port)
      break;
  }
  return rc;
}

int broker_restart(struct broker *b) {
  double deadline = mono_s() + 10;
  int rc;
  do {
    rc = start_once(b);
    if (rc != SIM_EIO)
      return rc;
    usleep(20000); /* the old process's socket may linger a moment */
  } while (mono_s() < deadline);
  return rc;
}

/* The waiting is platproc's: a child process stopped or killed alike. */
int broker_stop(struct broker *b) {
  if (b->pid <= 0)
    return SIM_EINVAL;
  kill(b->pid, SIGCONT); /* a paused broker cannot act on SIGTERM */
  struct platproc p = {.pid = b->pid};
  b->pid = 0;
  return platproc_stop(&p);
}

void broker_kill(struct broker *b) {
  struct platproc p = {.pid = b->pid};
  platproc_kill(&p);
  b->pid = 0;
}

void broker_pause(struct broker *b, int paused) {
  if (b->pid > 0)
    kill(b->pid, paused ? SIGSTOP : SIGCONT);
}

int broker_passwd(const char *path, const char *user, const char *password) {
  pid_t pid = fork();
  if (pid < 0)
    return -errno;
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0)
      dup2(fd, 1);
    execl("/usr/bin/mosquitto_passwd", "mosquitto_passwd", "-c", "-b", path, user, password,
          (char *)NULL);
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid)
    return -errno;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : SIM_EIO;
}
