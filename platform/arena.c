#include "platform/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim/core/err.h"

struct plat_arena_extra {
  struct plat_arena_extra *next;
  alignas(max_align_t) unsigned char data[];
};

static size_t align_up(size_t n) {
  const size_t a = alignof(max_align_t);
  return (n + a - 1) & ~(a - 1);
}

static void *pa_alloc(void *data, size_t size) {
  return plat_arena_alloc(data, size);
}

/* protobuf-c frees what it unpacked piece by piece only when an unpack fails half-way; the
 * arena takes it all back at its reset. */
static void pa_free(void *data, void *p) {
  (void)data;
  (void)p;
}

int plat_arena_init(struct plat_arena *a, size_t first_size) {
  *a = (struct plat_arena){.pa = {pa_alloc, pa_free, a}};
  a->size = align_up(first_size ? first_size : 1);
  a->block = malloc(a->size);
  if (!a->block) {
    a->size = 0;
    return SIM_ENOMEM;
  }
  a->mallocs = 1;
  return 0;
}

static void free_extra(struct plat_arena *a) {
  struct plat_arena_extra *e = a->extra, *next;
  for (; e; e = next) {
    next = e->next;
    free(e);
  }
  a->extra = NULL;
}

void plat_arena_fini(struct plat_arena *a) {
  free_extra(a);
  free(a->block);
  *a = (struct plat_arena){0};
}

/* A message outgrew the block: the block becomes as large as the whole message needed (up to
 * PLAT_ARENA_KEEP_MAX), so that the next one of that size fits at once. When that allocation
 * fails the old block stays: smaller, still usable. */
void plat_arena_reset(struct plat_arena *a) {
  if (a->extra) {
    size_t want = a->used + a->extra_bytes;
    free_extra(a);
    if (want > a->size && want <= PLAT_ARENA_KEEP_MAX) {
      unsigned char *b = malloc(align_up(want));
      if (b) {
        free(a->block);
        a->block = b;
        a->size = align_up(want);
        a->mallocs++;
      }
    }
  }
  a->used = 0;
  a->extra_bytes = 0;
}

void *plat_arena_alloc(struct plat_arena *a, size_t size) {
  size_t n = align_up(size ? size : 1);
  if (n < size)
    return NULL; /* overflow */
  if (a->block && a->size - a->used >= n) {
    void *p = a->block + a->used;
    a->used += n;
    return p;
  }
  if (n > SIZE_MAX - sizeof(struct plat_arena_extra))
    return NULL;
  struct plat_arena_extra *e = malloc(sizeof *e + n);
  if (!e)
    return NULL;
  e->next = a->extra;
  a->extra = e;
  a->extra_bytes += n;
  a->mallocs++;
  return e->data;
}
