/* For the fuzz targets that make their own large seeds: run with HUBSIM_FUZZ_SEEDS=DIR, such a
 * target writes them into DIR and exits instead of fuzzing (the large inputs kept in
 * tests/fuzz/corpus/NAME/ were written this way). A target defines
 * write_seeds(const char *dir) and then says FUZZ_SEEDS_ON_INIT(write_seeds) once, at file
 * scope. */
#ifndef TESTS_FUZZ_FUZZ_SEEDS_H
#define TESTS_FUZZ_FUZZ_SEEDS_H

#include <stdlib.h>

#define FUZZ_SEEDS_ON_INIT(write_fn)                                                               \
  int LLVMFuzzerInitialize(int *argc, char ***argv);                                               \
  int LLVMFuzzerInitialize(int *argc, char ***argv) {                                              \
    (void)argc;                                                                                    \
    (void)argv;                                                                                    \
    const char *seeds_dir = getenv("HUBSIM_FUZZ_SEEDS");                                           \
    if (seeds_dir) {                                                                               \
      write_fn(seeds_dir);                                                                         \
      exit(0);                                                                                     \
    }                                                                                              \
    return 0;                                                                                      \
  }

#endif
