/* hubsim: the command dispatcher. Each command parses its own flags. */
#include <stdio.h>
#include <string.h>

#include "app/conform_cmd.h"
#include "app/devices_cmd.h"
#include "app/merge.h"
#include "app/provision.h"
#include "app/replay.h"
#include "app/run.h"
#include "app/znp_cmd.h"
#include "platform/platform.h"

#include "app/version.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: hubsim COMMAND [FLAGS]\n"
          "\n"
          "hubsim starts virtual Zigbee devices behind virtual hubs; every hub holds a real\n"
          "connection to an IoT platform and speaks its device protocol (hubrpc v1).\n"
          "\n"
          "commands:\n"
          "  run        run a fleet against a platform (default: an embedded reference platform)\n"
          "  merge      combine the summaries of a sharded run (run --shard I/N) into one\n"
          "  platform   run the reference platform alone\n"
          "  replay     re-send a capture's (run --record) upstream traffic to a platform and\n"
          "             compare its answers with the capture's\n"
          "  conform    check a platform against docs/protocol.md, one case per rule\n"
          "  devices    the device catalogue: list, show MODEL, sample MODEL (frames it sends)\n"
          "  provision  write a fleet's TLS identities (CA, hub and server certificates, keys),\n"
          "             hub secrets and device registry into a folder\n"
          "  znp        serve an emulated Z-Stack ZNP coordinator on TCP for Zigbee hosts\n"
          "             (zigbee2mqtt, zigbee-herdsman): hardware in the loop\n"
          "  version    print the version\n"
          "\n"
          "flags:\n"
          "  -h, --help     this text; `hubsim COMMAND --help` describes a command's flags\n"
          "  --version      print the version\n"
          "\n"
          "exit codes: 0 success, 1 an expectation or the accounting failed, 2 usage or input\n"
          "error, 3 runtime failure (platform unreachable, resources), 4 the generator could not\n"
          "keep its schedule.\n");
  /* HUBSIM_HAVE_TUI and HUBSIM_HAVE_GUI come from app/CMakeLists.txt. */
  if (!HUBSIM_HAVE_TUI || !HUBSIM_HAVE_GUI)
    fprintf(out, "\nthis build has no dashboard for hubsim run --ui%s%s (see hubsim run --help).\n",
            HUBSIM_HAVE_TUI ? "" : " tui", HUBSIM_HAVE_GUI ? "" : " gui");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("hubsim %s (hubrpc v1)\n", HUBSIM_VERSION);
    return 0;
  }
  if (strcmp(cmd, "run") == 0)
    return app_run_main(argc - 1, argv + 1);
  if (strcmp(cmd, "devices") == 0)
    return app_devices_main(argc - 1, argv + 1);
  if (strcmp(cmd, "provision") == 0)
    return app_provision_main(argc - 1, argv + 1);
  if (strcmp(cmd, "merge") == 0)
    return app_merge_main(argc - 1, argv + 1);
  if (strcmp(cmd, "platform") == 0)
    return plat_main(argc - 1, argv + 1);
  if (strcmp(cmd, "conform") == 0)
    return app_conform_main(argc - 1, argv + 1);
  if (strcmp(cmd, "replay") == 0)
    return app_replay_main(argc - 1, argv + 1);
  if (strcmp(cmd, "znp") == 0)
    return app_znp_main(argc - 1, argv + 1);
  fprintf(stderr, "hubsim: unknown command '%s' (try hubsim --help)\n", cmd);
  return 2;
}
