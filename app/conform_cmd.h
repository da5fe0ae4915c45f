/* `hubsim conform`: the hubrpc conformance suite against a platform (docs/conformance.md). */
#ifndef APP_CONFORM_CMD_H
#define APP_CONFORM_CMD_H

/* argv[0] is "conform". Returns the exit code: 0 every case not skipped passed, 1 a case
 * failed, 2 bad flags, 3 the platform cannot be reached. */
int app_conform_main(int argc, char **argv);

#endif
