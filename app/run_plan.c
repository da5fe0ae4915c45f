/* How a fleet fits on this machine: `hubsim run --workers auto`, the source addresses chosen
 * when one would not reach enough ports, and `--preflight`, which says all of it and why.
 *
 * Two limits decide: the open files of one process (one socket per hub, so a process holds at
 * most that many hubs less a reserve for its own files) and the local ports of one source
 * address towards one destination (net.ipv4.ip_local_port_range: every connection to the same
 * platform address and port needs its own (source address, port) pair, and closed connections
 * keep theirs in TIME_WAIT for a minute). Both are read from this machine at run time: nothing
 * here is an assumed figure. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app/run_internal.h"
#include "sim/transport/transport.h"

uint64_t app_run_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

static void read_ports(struct app_run_plan *p) {
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  unsigned lo = 0, hi = 0;
  if (f) {
    if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo > hi || hi > 65535)
      lo = hi = 0;
    fclose(f);
  }
  p->port_lo = lo;
  p->port_hi = hi;
  /* A quarter of the range. connect() looks for a free port of its source address by walking
   * the range, which grows slow as the range fills: 100,000 hubs over 5 addresses (71% of each
   * range) cost the generator 313 s of kernel CPU in a 3-minute run and 11,744 hubs never got
   * through their handshake; over 20 addresses (18%), 24.6 s and every hub online
   * (docs/performance.md, section N). Reconnects also leave ports in TIME_WAIT, and other
   * programs use the same range. */
  p->per_addr = hi ? (uint64_t)(hi - lo + 1) / 4u : 0;
}

static uint64_t mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[128];
  uint64_t kib = 0;
  if (!f)
    return 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kib) == 1)
      break;
  fclose(f);
  return kib * 1024u;
}

/* The platform's address is a loopback one (or the embedded platform's, 127.0.0.1): then any
 * 127.0.0.x reaches it and the source addresses can be chosen here. */
static int platform_loopback(const struct run_opts *o) {
  struct sim_addr a;
  struct in_addr ip;
  if (!o->platform)
    return 1;
  if (sim_addr_parse(o->platform, &a) || inet_pton(AF_INET, a.host, &ip) != 1)
    return 0;
  return (ntohl(ip.s_addr) >> 24) == 127;
}

int app_run_plan_make(const struct run_opts *o, struct app_run_plan *p) {
  memset(p, 0, sizeof *p);
  p->nofile = app_run_nofile();
  read_ports(p);
  p->mem_avail = mem_available();
  p->cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
  p->hubs = o->hubs;
  p->embedded = !o->platform;
  p->loopback = platform_loopback(o);
  p->per_process = p->nofile > APP_RUN_FILES_KEPT ? p->nofile - APP_RUN_FILES_KEPT : 0;
  if (p->nofile == UINT64_MAX)
    p->per_process = UINT64_MAX;
  p->workers = p->per_process ? (p->hubs + p->per_process - 1) / p->per_process : 0;
  if (p->workers == 0)
    p->workers = 1;
  p->addrs = p->per_addr ? (uint32_t)((p->hubs + p->per_addr - 1) / p->per_addr) : 1;
  if (p->addrs == 0)
    p->addrs = 1;
  if (p->embedded && p->hubs + APP_RUN_FILES_KEPT > p->nofile) {
    /* Workers do not help: the embedded platform holds one socket per hub in this process. */
    snprintf(p->why, sizeof p->why,
             "the embedded platform holds one socket per hub in this process, which may open "
             "%" PRIu64 " files: start the platform as its own process (hubsim platform "
             "--workers N) and pass --platform",
             p->nofile);
    return 0;
  }
  if (p->per_process == 0) {
    snprintf(p->why, sizeof p->why, "the open-file limit (%" PRIu64 ") leaves no room for hubs",
             p->nofile);
    return 0;
  }
  if (p->workers > 256) {
    snprintf(p->why, sizeof p->why,
             "%" PRIu64 " worker processes would be needed (at most 256): raise ulimit -n",
             p->workers);
    return 0;
  }
  if (p->addrs > 1 && !p->loopback && !o->bind) {
    snprintf(p->why, sizeof p->why,
             "%" PRIu64 " connections to one platform address need %u source addresses (each "
             "reaches about %" PRIu64 " ports): give them with --bind",
             p->hubs, p->addrs, p->per_addr);
    return 0;
  }
  if (p->addrs > 254) {
    snprintf(p->why, sizeof p->why, "%u source addresses would be needed (127.0.0.1-254 at most)",
             p->addrs);
    return 0;
  }
  if (p->addrs > 1)
    snprintf(p->bind, sizeof p->bind, "127.0.0.1-127.0.0.%u", p->addrs);
  if (!o->workers_auto && o->shards <= 1 && o->workers < p->workers) {
    snprintf(p->why, sizeof p->why,
             "%" PRIu64 " hubs need %" PRIu64 " processes of at most %" PRIu64
             " hubs, the command gives %" PRIu64 ": add --workers auto",
             p->hubs, p->workers, p->per_process, o->workers);
    return 0;
  }
  p->fits = 1;
  return 0;
}

void app_run_plan_print(FILE *f, const struct run_opts *o, const struct app_run_plan *p) {
  fprintf(f, "hubsim run --preflight: %" PRIu64 " hubs x %" PRIu64 " devices against %s\n", p->hubs,
          o->dph, o->platform ? o->platform : "the embedded platform");
  fprintf(f, "  this machine\n");
  if (p->nofile == UINT64_MAX)
    fprintf(f, "    open files per process  unlimited\n");
  else
    fprintf(f, "    open files per process  %" PRIu64 " (ulimit -n, hard limit)\n", p->nofile);
  if (p->port_hi)
    fprintf(f,
            "    local ports             %u-%u (net.ipv4.ip_local_port_range): about %" PRIu64
            " connections planned per source address\n",
            p->port_lo, p->port_hi, p->per_addr);
  else
    fprintf(f, "    local ports             unknown (no /proc/sys/net/ipv4/ip_local_port_range)\n");
  fprintf(f, "    processors              %u\n", p->cpus);
  if (p->mem_avail)
    fprintf(f, "    memory available        %" PRIu64 " MiB (MemAvailable)\n", p->mem_avail >> 20);
  fprintf(f, "  the plan\n");
  if (p->per_process != UINT64_MAX)
    fprintf(f, "    hubs per process        at most %" PRIu64 " (one socket each, %u files kept)\n",
            p->per_process, APP_RUN_FILES_KEPT);
  if (o->workers_auto || o->workers == p->workers)
    fprintf(f, "    worker processes        %" PRIu64 "%s\n", p->workers,
            p->workers == 1 ? " (the fleet runs in this process)"
                            : (o->workers_auto ? " (--workers auto)" : " (--workers)"));
  else
    fprintf(f, "    worker processes        %" PRIu64 " needed, %" PRIu64 " given (--workers)\n",
            p->workers, o->workers);
  if (o->bind && o->bind != p->bind)
    fprintf(f, "    source addresses        %s (--bind)\n", o->bind);
  else if (p->bind[0])
    fprintf(f, "    source addresses        %s (chosen: one address reaches too few ports)\n",
            p->bind);
  else
    fprintf(f, "    source addresses        the default one\n");
  if (p->embedded)
    fprintf(f, "    platform                embedded: one socket per hub in this process too\n");
  if (p->fits)
    fprintf(f, "  verdict: fits\n");
  else
    fprintf(f, "  verdict: does not fit: %s\n", p->why);
}
