/* The hubrpc codec: Envelope messages of proto/hubrpc.proto in varint-delimited frames.
 * docs/protocol.md is the normative description. */
#ifndef SIM_WIRE_HUBRPC_H
#define SIM_WIRE_HUBRPC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/hubrpc.pb-c.h"
#include "sim/core/buf.h"

#define SIM_HUBRPC_VERSION 1u
#define SIM_HUBRPC_NONCE_LEN 16u
#define SIM_HUBRPC_MAC_LEN 32u
#define SIM_HUBRPC_HUB_ID_MAX 64u
#define SIM_HUBRPC_REASON_MAX 256u
/* Deepest Attribute nesting a frame may carry (docs/protocol.md 3.4): an Attribute of
 * Report.attributes is level 1, each of its members level 2, and so on. Real Xiaomi TLV lists
 * use 2 levels. Attribute is the only recursive message of the schema. */
#define SIM_HUBRPC_ATTR_DEPTH_MAX 8u

typedef Hubrpc__V1__Envelope sim_envelope;

/* Appends env as one frame (varint length + body) to out. 0, SIM_ENOMEM or SIM_ETOOBIG. */
int sim_hubrpc_encode(struct sim_buf *out, const sim_envelope *env);

/* Decodes one frame body. On success *out is a message owned by the caller, freed with
 * sim_hubrpc_free(). SIM_EMALFORMED: not a valid Envelope, or Attributes nested deeper than
 * SIM_HUBRPC_ATTR_DEPTH_MAX (checked before protobuf-c's recursive unpack sees the bytes).
 * SIM_EUNKNOWN_MSG: valid, but no body this version knows. *out is written only on success. */
int sim_hubrpc_decode(const uint8_t *body, size_t len, sim_envelope **out);
/* sim_hubrpc_decode with every part of *out taken from alloc (NULL: malloc), for callers that
 * give the memory back all at once (an arena) instead of through sim_hubrpc_free. */
int sim_hubrpc_decode_in(const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                         sim_envelope **out);
/* The nesting check of sim_hubrpc_decode alone: 0 when no Attribute of body lies deeper than
 * SIM_HUBRPC_ATTR_DEPTH_MAX, SIM_EMALFORMED when one does or when the bytes on the way there do
 * not parse as protobuf. Iterative, linear in len; reads nothing outside body[0..len). */
int sim_hubrpc_check_nesting(const uint8_t *body, size_t len);
void sim_hubrpc_free(sim_envelope *env);

/* The ErrorCode that answers a local decode or session error (SIM_E* -> ERROR_*). */
Hubrpc__V1__ErrorCode sim_hubrpc_error_code(int err);
/* The name of a body case ("hello", "report"...), for logs and error reasons. */
const char *sim_hubrpc_body_name(Hubrpc__V1__Envelope__BodyCase c);

/* Appends an Error frame with code and reason. The reason is cut to SIM_HUBRPC_REASON_MAX bytes
 * at a UTF-8 character boundary, and bytes that are not UTF-8 become '?': Error.reason is a
 * protobuf string, which runtimes that check UTF-8 (Java, Python) refuse to parse otherwise. */
int sim_hubrpc_put_error(struct sim_buf *out, Hubrpc__V1__ErrorCode code, const char *reason);

#endif
