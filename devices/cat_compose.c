/* The catalogue loader: a YAML file's text into a libyaml document, with nesting and anchors
 * bounded while it is built. */
#include "devices/cat_load_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/core/err.h"

/* ---- composing the document from parser events --------------------------------------------- */

/* libyaml's own loader (yaml_parser_load) nests without bound, and its scanner keeps one entry
 * per open flow collection that it walks at every token, so a deeply nested file costs time
 * quadratic in its size (a megabyte of "[" ran for minutes). dev_cat__compose() builds the same
 * document from parser events and refuses a collection nested deeper than DEV_CAT_DEPTH_MAX
 * before opening it; the parser only ever reads a bounded distance ahead of the events it
 * returns, so the scanner's bookkeeping stays bounded too. Anchors (&a) and aliases (*a) work
 * as in libyaml's loader, except that an alias must follow the end of its anchor's node (so a
 * node never contains itself). */

struct compose_level {
  int node;     /* the open sequence or mapping */
  int key;      /* mapping: the key waiting for its value, or 0 */
  char *anchor; /* its anchor (owned by the event, moved here), or NULL */
};

struct compose_anchor {
  char *name;
  int node;
};

struct composer {
  struct compose_level stack[DEV_CAT_DEPTH_MAX];
  int depth;
  struct compose_anchor anchors[DEV_CAT_ANCHORS_MAX];
  int n_anchors;
};

/* Fails at the event's position: FILE:LINE and the column in the reason. */
static int fail_at(struct cat_ld *x, const yaml_mark_t *mk, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct cat_ld *x, const yaml_mark_t *mk, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  int r = dev_cat__fail(x, NULL, "%s (column %zu)", msg, mk->column + 1);
  if (x->err)
    x->err->line = (int)mk->line + 1;
  return r;
}

static int syntax_error(struct cat_ld *x, const yaml_parser_t *p, const char *text, size_t len) {
  if (p->error == YAML_MEMORY_ERROR)
    return dev_cat__fail_oom(x);
  int r = dev_cat__fail(x, NULL, "syntax error: %s%s%s", p->problem ? p->problem : "invalid YAML",
                        p->context ? " " : "", p->context ? p->context : "");
  if (x->err) {
    x->err->line = (int)p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) {
      /* Encoding errors carry a byte offset, not a mark. */
      x->err->line = 1;
      for (size_t i = 0; i < p->problem_offset && i < len; i++)
        x->err->line += text[i] == '\n';
    }
  }
  return r;
}

static void set_mark(yaml_document_t *doc, int id, const yaml_event_t *ev) {
  yaml_node_t *n = yaml_document_get_node(doc, id);
  n->start_mark = ev->start_mark;
  n->end_mark = ev->end_mark;
}

/* Puts node id where the open collection expects it. The root is the first node added. */
static int attach(struct composer *k, yaml_document_t *doc, int id) {
  if (k->depth == 0)
    return 1;
  struct compose_level *l = &k->stack[k->depth - 1];
  yaml_node_t *n = yaml_document_get_node(doc, l->node);
  if (n->type == YAML_SEQUENCE_NODE)
    return yaml_document_append_sequence_item(doc, l->node, id);
  if (!l->key) {
    l->key = id;
    return 1;
  }
  int ok = yaml_document_append_mapping_pair(doc, l->node, l->key, id);
  l->key = 0;
  return ok;
}

/* Records anchor name (taken: freed here or with the composer) for node id. */
static int add_anchor(struct cat_ld *x, struct composer *k, char *name, int id,
                      const yaml_mark_t *mk) {
  if (!name)
    return 0;
  int r = 0;
  for (int i = 0; i < k->n_anchors && !r; i++)
    if (strcmp(k->anchors[i].name, name) == 0)
      r = fail_at(x, mk, "anchor &%s is defined twice", name);
  if (!r && k->n_anchors == DEV_CAT_ANCHORS_MAX)
    r = fail_at(x, mk, "more than %d anchors", DEV_CAT_ANCHORS_MAX);
  if (r) {
    free(name);
    return r;
  }
  k->anchors[k->n_anchors].name = name;
  k->anchors[k->n_anchors++].node = id;
  return 0;
}

static void composer_fini(struct composer *k) {
  for (int i = 0; i < k->depth; i++)
    free(k->stack[i].anchor);
  for (int i = 0; i < k->n_anchors; i++)
    free(k->anchors[i].name);
}

/* Reads one document's events (after its DOCUMENT-START) into doc, which is initialised. */
static int compose_nodes(struct cat_ld *x, yaml_parser_t *p, yaml_document_t *doc, const char *text,
                         size_t len) {
  struct composer k;
  yaml_event_t ev;
  int r = 0;
  k.depth = 0;
  k.n_anchors = 0;
  for (;;) {
    if (!yaml_parser_parse(p, &ev)) {
      r = syntax_error(x, p, text, len);
      break;
    }
    int id = 0, done = 0;
    char *anchor = NULL;
    switch (ev.type) {
    case YAML_SCALAR_EVENT:
      if (ev.data.scalar.length > INT_MAX) {
        r = fail_at(x, &ev.start_mark, "a scalar of %zu bytes", ev.data.scalar.length);
        break;
      }
      id = yaml_document_add_scalar(doc, NULL, ev.data.scalar.value, (int)ev.data.scalar.length,
                                    ev.data.scalar.style);
      anchor = (char *)ev.data.scalar.anchor;
      ev.data.scalar.anchor = NULL;
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      int seq = ev.type == YAML_SEQUENCE_START_EVENT;
      if (k.depth == DEV_CAT_DEPTH_MAX) {
        r = fail_at(x, &ev.start_mark, "nesting deeper than %d levels", DEV_CAT_DEPTH_MAX);
        break;
      }
      id = seq ? yaml_document_add_sequence(doc, NULL, ev.data.sequence_start.style)
               : yaml_document_add_mapping(doc, NULL, ev.data.mapping_start.style);
      anchor = (char *)(seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor);
      if (seq)
        ev.data.sequence_start.anchor = NULL;
      else
        ev.data.mapping_start.anchor = NULL;
      break;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
      /* The collection is complete: its anchor may be used from now on. */
      struct compose_level *l = &k.stack[--k.depth];
      char *a = l->anchor;
      l->anchor = NULL;
      r = add_anchor(x, &k, a, l->node, &ev.start_mark);
      break;
    }
    case YAML_ALIAS_EVENT: {
      const char *name = (const char *)ev.data.alias.anchor;
      for (int i = 0; i < k.n_anchors && !id; i++)
        if (strcmp(k.anchors[i].name, name) == 0)
          id = k.anchors[i].node;
      if (!id)
        r = fail_at(x, &ev.start_mark, "alias *%s: no complete node has that anchor before it",
                    name);
      else if (!attach(&k, doc, id))
        r = dev_cat__fail_oom(x);
      id = 0;
      break;
    }
    case YAML_DOCUMENT_END_EVENT:
      done = 1;
      break;
    default: /* nothing else comes inside a document */
      break;
    }
    if (!r && (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
               ev.type == YAML_MAPPING_START_EVENT)) {
      if (!id || !attach(&k, doc, id)) {
        r = dev_cat__fail_oom(x);
      } else {
        set_mark(doc, id, &ev);
        if (ev.type == YAML_SCALAR_EVENT) {
          r = add_anchor(x, &k, anchor, id, &ev.start_mark);
        } else {
          k.stack[k.depth].node = id;
          k.stack[k.depth].key = 0;
          k.stack[k.depth++].anchor = anchor;
        }
        anchor = NULL;
      }
    }
    free(anchor);
    yaml_event_delete(&ev);
    if (r || done)
      break;
  }
  composer_fini(&k);
  return r;
}

/* Parses text into *doc: one document, at most DEV_CAT_DEPTH_MAX deep. *have_doc says whether
 * *doc must be deleted. */
int dev_cat__compose(struct cat_ld *x, const char *text, size_t len, yaml_document_t *doc,
                     int *have_doc) {
  yaml_parser_t parser;
  yaml_event_t ev;
  int r = 0, docs = 0;
  *have_doc = 0;
  if (!yaml_parser_initialize(&parser))
    return dev_cat__fail_oom(x);
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  for (;;) {
    if (!yaml_parser_parse(&parser, &ev)) {
      r = syntax_error(x, &parser, text, len);
      break;
    }
    yaml_event_type_t type = ev.type;
    yaml_mark_t mark = ev.start_mark;
    yaml_event_delete(&ev);
    if (type == YAML_STREAM_END_EVENT)
      break;
    if (type != YAML_DOCUMENT_START_EVENT)
      continue;
    if (docs++) {
      r = dev_cat__fail(x, NULL, "a catalogue file holds one YAML document");
      if (x->err)
        x->err->line = (int)mark.line + 1;
      break;
    }
    if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1)) {
      r = dev_cat__fail_oom(x);
      break;
    }
    *have_doc = 1;
    if ((r = compose_nodes(x, &parser, doc, text, len)))
      break;
  }
  yaml_parser_delete(&parser);
  return r;
}
