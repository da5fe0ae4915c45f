/* `hubsim run`: a fleet against a platform, headless, with progress and a summary. */
#ifndef APP_RUN_H
#define APP_RUN_H

/* argv[0] is "run". Returns the exit code (see hubsim --help). */
int app_run_main(int argc, char **argv);

#endif
