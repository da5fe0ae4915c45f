/* `hubsim provision`: the TLS identities and the registry of a fleet (docs/provision.md). */
#ifndef APP_PROVISION_H
#define APP_PROVISION_H

/* argv[0] is "provision". Returns the exit code: 0 written, 2 a bad flag, an unusable output
 * folder or a bad scenario, 3 a failure while writing (nothing is left behind). */
int app_provision_main(int argc, char **argv);

#endif
