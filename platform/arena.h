/* A bump allocator for decoding one hubrpc message at a time. Internal to platform/.
 *
 * protobuf-c allocates every message, repeated field, string and byte string of an unpacked
 * Envelope apart (a Report with eleven TLV members is some thirty malloc calls, and as many
 * free calls after it). The platform handles each message completely before it reads the next,
 * so the whole decoded message can live in one block that is reset afterwards: in steady state
 * a message costs no allocation at all.
 *
 * The arena owns one block (first_size bytes to start with). A message that does not fit gets
 * further blocks from malloc; the next reset frees them and grows the block to what that
 * message needed (at most PLAT_ARENA_KEEP_MAX bytes are kept), so the following messages of
 * that size fit again without allocating.
 *
 * Threading: one arena per loop thread. plat_arena_alloc returns NULL when malloc fails, which
 * protobuf-c turns into a failed unpack. */
#ifndef PLATFORM_ARENA_H
#define PLATFORM_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* The most the block grows to between resets: a larger message still decodes (from further
 * blocks), but its memory is given back at the reset. */
#define PLAT_ARENA_KEEP_MAX (1u << 20)

struct plat_arena_extra; /* a further block, freed at the reset */

struct plat_arena {
  ProtobufCAllocator pa; /* hand &pa to protobuf-c; its allocator_data is the arena */
  unsigned char *block;  /* the kept block (malloc'ed, owned) */
  size_t size, used;     /* of block */
  size_t extra_bytes;    /* bytes asked of further blocks since the reset */
  struct plat_arena_extra *extra;
  /* Counters for tests and benchmarks: blocks malloc'ed (the first one included). */
  size_t mallocs;
};

/* Caller storage. 0 or SIM_ENOMEM. */
int plat_arena_init(struct plat_arena *a, size_t first_size);
/* Frees every block. Safe on a zeroed arena. */
void plat_arena_fini(struct plat_arena *a);
/* Forgets everything allocated since the last reset (pointers into it become invalid). */
void plat_arena_reset(struct plat_arena *a);
/* size bytes aligned for any type; NULL when memory runs out. */
void *plat_arena_alloc(struct plat_arena *a, size_t size);

#endif
