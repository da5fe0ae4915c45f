/* The outputs of a conformance run: a table for the terminal and a JUnit XML file for CI
 * (one <testcase> per case; a failed case carries <failure>, a skipped one <skipped>, each
 * with its reason). */
#ifndef CONFORM_REPORT_H
#define CONFORM_REPORT_H

#include <stdio.h>

#include "conform/conform.h"

/* Prints one line per result and a last line with the counts. */
void conform_report_table(FILE *out, const struct conform_result *r, size_t n);
/* Writes the JUnit file at path atomically (sim/core/wfile.h): the old file stays on failure.
 * 0 or a negative code. */
int conform_report_junit(const char *path, const char *url, const struct conform_result *r,
                         size_t n);

#endif
