/* `hubsim merge`: the summaries of a sharded run's shards combined into one (app/merge.c). */
#ifndef APP_MERGE_H
#define APP_MERGE_H

/* argv[0] is "merge". The exit code. */
int app_merge_main(int argc, char **argv);

#endif
