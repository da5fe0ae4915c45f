/* Loading the device catalogue: catalogue files (the YAML files of devices/catalog/,
 * --catalog directories, text) into a `struct dev_cat` (devices/cat_types.h). The loader's files
 * are listed at the top of devices/cat_load.c.
 *
 * Ownership: a catalogue from dev_cat_new() owns everything loaded into it and is freed by
 * dev_cat_free(). */
#ifndef DEVICES_CAT_LOAD_H
#define DEVICES_CAT_LOAD_H

#include <stddef.h>

#include "devices/cat_types.h"

/* Where a load failed: file, line (1-based, 0 when unknown) and reason. */
struct dev_cat_error {
  char file[256];
  int line;
  char reason[256];
};

/* Creates an empty catalogue. NULL on out of memory. */
struct dev_cat *dev_cat_new(void);

/* Adds the models and hubs of one catalogue file given as text (name is used in errors): the
 * entry point for files read elsewhere, built-in files and fuzzing. text need not end in a NUL;
 * len is at most DEV_CAT_FILE_MAX. 0, or SIM_EINVAL with *err filled (syntax error, nesting too
 * deep, unknown key, bad value, duplicate model id, state too large...), SIM_ENOMEM. On error
 * the catalogue is unchanged. Time and memory grow no faster than len. */
int dev_cat_add_text(struct dev_cat *c, const char *name, const char *text, size_t len,
                     struct dev_cat_error *err);

/* Adds one catalogue file. path must name a regular file (a symbolic link to one is followed)
 * of at most DEV_CAT_FILE_MAX bytes; anything else (a directory, a FIFO, a device, a socket) is
 * refused without being read, with *err naming the path and what it is. Never blocks on the
 * path: it is opened non-blocking and read with a bounded read. 0, SIM_EINVAL (*err filled),
 * SIM_ENOMEM. */
int dev_cat_add_file(struct dev_cat *c, const char *path, struct dev_cat_error *err);

/* Adds every *.yaml file of dir (at most DEV_CAT_DIR_FILES_MAX), in name order, each as
 * dev_cat_add_file() does. 0, SIM_EINVAL (*err filled), SIM_ENOTFOUND (dir cannot be read;
 * *err filled), SIM_ENOMEM. */
int dev_cat_add_dir(struct dev_cat *c, const char *dir, struct dev_cat_error *err);

/* Adds the catalogue files built into the binary (devices/catalog/ at build time). */
int dev_cat_add_builtin(struct dev_cat *c, struct dev_cat_error *err);

void dev_cat_free(struct dev_cat *c);

#endif
