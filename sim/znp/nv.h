/* The non-volatile items of an emulated Z-Stack coordinator (OSAL NV: 16-bit ids, byte
 * values), kept in memory and persisted to a text file so that a restarted host finds the
 * network it formed. The file is rewritten whole through sim/core/wfile after every change, so
 * a crash leaves either the old or the new items, never half of them.
 *
 * File format, one item a line, sorted by id; '#' starts a comment line:
 *   0021 0000050f...      id as 4 hex digits, a space, the value as hex (may be empty)
 *   01.0001.0003 0301...  an extended item of Z-Stack 3.x's NV driver (SYS_NV_*): system id
 *                         (2 hex digits), item id and sub id (4 each), a space, the value
 * A file without extended items (as written before they existed) loads as it did.
 *
 * Ownership: the caller owns struct sim_znp_nv; sim_znp_nv_fini() frees the values. One
 * thread. */
#ifndef SIM_ZNP_NV_H
#define SIM_ZNP_NV_H

#include <stddef.h>
#include <stdint.h>

#define SIM_ZNP_NV_MAX_ITEMS 256 /* Z-Stack 3.x images hold about 100 legacy items */
#define SIM_ZNP_NV_MAX_LEN 1024  /* the largest legacy item of a real dump is 255 bytes */

struct sim_znp_nv_item {
  uint16_t id;
  uint16_t len;
  uint8_t *data; /* len bytes (NULL when len is 0) */
};

/* The extended items (Z-Stack 3.x's NV driver addresses an item by system id, item id and sub
 * id: the entries of the address manager and key tables). Only the entries a coordinator
 * keeps are stored; the coordinator says what an absent one reads as. */
#define SIM_ZNP_NV_MAX_XITEMS 4096
#define SIM_ZNP_NV_MAX_XLEN 256
struct sim_znp_nv_xitem {
  uint8_t sys;
  uint16_t item, sub;
  uint16_t len;
  uint8_t *data; /* len bytes (NULL when len is 0) */
};

struct sim_znp_nv {
  char *path; /* the file, or NULL: memory only */
  size_t n;
  struct sim_znp_nv_item items[SIM_ZNP_NV_MAX_ITEMS]; /* sorted by id */
  size_t nx, capx;
  struct sim_znp_nv_xitem *x; /* heap, sorted by (sys, item, sub) */
};

/* Empty NV over path (NULL: never saved). When the file exists its items are loaded; a
 * malformed file is SIM_EMALFORMED (or SIM_ETOOBIG, SIM_EFULL) with "LINE: problem" in why, and
 * nothing is kept. A missing file is not an error: NV starts empty. */
int sim_znp_nv_open(struct sim_znp_nv *nv, const char *path, char *why, size_t cap);
void sim_znp_nv_fini(struct sim_znp_nv *nv);

/* The item, or NULL. Borrowed until the next change. */
const struct sim_znp_nv_item *sim_znp_nv_get(const struct sim_znp_nv *nv, uint16_t id);
/* Creates item id of len bytes (zeros, then the first initlen bytes of init). SIM_EEXISTS when
 * it exists (unchanged), SIM_ETOOBIG above SIM_ZNP_NV_MAX_LEN, SIM_EFULL, SIM_ENOMEM. */
int sim_znp_nv_create(struct sim_znp_nv *nv, uint16_t id, uint16_t len, const uint8_t *init,
                      size_t initlen);
/* Writes n bytes at off into an existing item: SIM_ENOTFOUND, SIM_ETOOBIG past its end. */
int sim_znp_nv_write(struct sim_znp_nv *nv, uint16_t id, size_t off, const uint8_t *p, size_t n);
/* Creates or replaces item id with exactly p[0..n). */
int sim_znp_nv_set(struct sim_znp_nv *nv, uint16_t id, const uint8_t *p, size_t n);
/* Removes item id: 0 or SIM_ENOTFOUND. */
int sim_znp_nv_delete(struct sim_znp_nv *nv, uint16_t id);
/* Removes every item, extended ones included. */
void sim_znp_nv_clear(struct sim_znp_nv *nv);

/* The extended item (sys, item, sub), or NULL. Borrowed until the next change. */
const struct sim_znp_nv_xitem *sim_znp_nv_xget(const struct sim_znp_nv *nv, uint8_t sys,
                                               uint16_t item, uint16_t sub);
/* Creates or replaces the extended item with exactly p[0..n): SIM_ETOOBIG above
 * SIM_ZNP_NV_MAX_XLEN, SIM_EFULL at SIM_ZNP_NV_MAX_XITEMS, SIM_ENOMEM. */
int sim_znp_nv_xset(struct sim_znp_nv *nv, uint8_t sys, uint16_t item, uint16_t sub,
                    const uint8_t *p, size_t n);
/* Removes the extended item: 0 or SIM_ENOTFOUND. */
int sim_znp_nv_xdelete(struct sim_znp_nv *nv, uint8_t sys, uint16_t item, uint16_t sub);
/* Removes every extended item. */
void sim_znp_nv_xclear(struct sim_znp_nv *nv);
/* Rewrites the file (no-op without a path): 0 or a negative errno / SIM_E* code. */
int sim_znp_nv_save(const struct sim_znp_nv *nv);

#endif
