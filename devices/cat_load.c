/* The catalogue loader: the YAML files of devices/catalog/ (docs/catalog.md) into the tables of
 * devices/cat_types.h.
 *
 * A file is read with a bounded read (regular files only, DEV_CAT_FILE_MAX bytes at most) and
 * parsed with libyaml's event API into a libyaml document whose nesting is bounded while it is
 * built (compose()), so every node keeps its line and an error can name FILE:LINE and the key
 * path (`attributes[2].type`). Everything a file produces is built in a private arena and list,
 * and joined to the catalogue only when the whole file is valid: a failed load leaves the
 * catalogue as it was.
 *
 * Every string, number and count is checked against what the rest of hubsim can carry (the
 * limits of cat_types.h), so that a file that loads never has a piece silently cut, clamped or
 * dropped later. No step is quadratic in the file: lists are bounded before they are searched.
 *
 * Each model's per-device state is laid out once, at load (cat_validate.c), so the behaviour
 * engine (generic.c) only reads offsets: 8-byte values first (energy), then 4-byte ones, then
 * the 16-bit counters.
 *
 * The loader's files: this one (entry points, files and directories, the arena), cat_compose.c
 * (text to a YAML document), cat_yaml.c (reading nodes, errors), cat_model.c, cat_channels.c,
 * cat_attrs.c, cat_hubs.c (the parts of a file) and cat_validate.c (checks across a model). */
#include "devices/cat_load_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/core/err.h"

/* The generated cat_builtin.c (cmake/embed.cmake): file i of the built-in catalogue, or NULL past
 * the last one. */
const char *dev_cat__builtin_file(size_t i, const char **name, size_t *len);

/* ---- arena -------------------------------------------------------------------------------- */

struct cat_chunk {
  struct cat_chunk *next;
  size_t size, used;
  max_align_t data[];
};

#define CAT_CHUNK 16384

void *dev_cat__alloc(struct cat_arena *a, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (n == 0)
    n = sizeof(max_align_t);
  struct cat_chunk *k = a->head;
  if (!k || k->size - k->used < n) {
    size_t size = n > CAT_CHUNK ? n : CAT_CHUNK;
    k = calloc(1, sizeof(*k) + size);
    if (!k)
      return NULL;
    k->size = size;
    k->next = a->head;
    a->head = k;
  }
  void *p = (char *)k->data + k->used;
  k->used += n;
  return p;
}

static void ar_free(struct cat_arena *a) {
  struct cat_chunk *k = a->head;
  while (k) {
    struct cat_chunk *next = k->next;
    free(k);
    k = next;
  }
  a->head = NULL;
}

/* Moves every chunk of from into to. */
static void ar_join(struct cat_arena *to, struct cat_arena *from) {
  if (!from->head)
    return;
  struct cat_chunk *last = from->head;
  while (last->next)
    last = last->next;
  last->next = to->head;
  to->head = from->head;
  from->head = NULL;
}

static int parse_list(struct cat_ld *x, const yaml_node_t *root, const char *key,
                      int (*one)(struct cat_ld *, const yaml_node_t *)) {
  yaml_node_t *l = dev_cat__get(x, root, key);
  if (!l)
    return 0;
  int r = 0;
  size_t o = dev_cat__push_key(x, key);
  if (!is_seq(l)) {
    r = dev_cat__fail(x, l, "expected a list");
    dev_cat__pop(x, o);
    return r;
  }
  dev_cat__pop(x, o);
  for (size_t i = 0; i < seq_len(l); i++) {
    yaml_node_t *m = node(x, l->data.sequence.items.start[i]);
    /* Errors inside a model are named relative to it (`attributes[2].type`), its line says
     * which one; errors of the list item itself say models[i]. */
    if (!m || m->type != YAML_MAPPING_NODE) {
      o = dev_cat__push_key(x, key);
      dev_cat__push_idx(x, i);
      r = dev_cat__fail(x, m, "expected a mapping");
      dev_cat__pop(x, o);
      return r;
    }
    if (strcmp(key, "hubs") == 0) {
      o = dev_cat__push_key(x, key);
      dev_cat__push_idx(x, i);
      r = one(x, m);
      dev_cat__pop(x, o);
    } else {
      r = one(x, m);
    }
    if (r)
      return r;
  }
  return 0;
}

/* ---- the catalogue ------------------------------------------------------------------------ */

struct dev_cat *dev_cat_new(void) {
  struct dev_cat *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->arena = calloc(1, sizeof(struct cat_arena));
  if (!c->arena) {
    free(c);
    return NULL;
  }
  return c;
}

void dev_cat_free(struct dev_cat *c) {
  if (!c)
    return;
  ar_free(c->arena);
  free(c->arena);
  free(c->models);
  free(c->hubs);
  free(c);
}

/* Joins what x built to c; fails only on out of memory, leaving c unchanged. */
static int commit(struct dev_cat *c, struct cat_ld *x) {
  if (x->n_models) {
    struct dev_cat_model **m = realloc(c->models, (c->n_models + x->n_models) * sizeof(*m));
    if (!m)
      return dev_cat__fail_oom(x);
    c->models = m;
  }
  if (x->n_hubs) {
    struct dev_cat_hub *h = realloc(c->hubs, (c->n_hubs + x->n_hubs) * sizeof(*h));
    if (!h)
      return dev_cat__fail_oom(x);
    c->hubs = h;
  }
  if (x->n_models)
    memcpy(c->models + c->n_models, x->models, x->n_models * sizeof(*x->models));
  if (x->n_hubs)
    memcpy(c->hubs + c->n_hubs, x->hubs, x->n_hubs * sizeof(*x->hubs));
  c->n_models += x->n_models;
  c->n_hubs += x->n_hubs;
  ar_join(c->arena, &x->ar);
  return 0;
}

int dev_cat_add_text(struct dev_cat *c, const char *name, const char *text, size_t len,
                     struct dev_cat_error *err) {
  struct cat_ld x = {.file = name ? name : "(catalogue)", .err = err, .c = c};
  yaml_document_t doc;
  int r, have_doc = 0;
  if (err)
    memset(err, 0, sizeof(*err));
  if (len > DEV_CAT_FILE_MAX) {
    r = dev_cat__fail(&x, NULL, "%zu bytes, more than the %d a catalogue file may have", len,
                      DEV_CAT_FILE_MAX);
    goto done;
  }
  if ((r = dev_cat__compose(&x, text, len, &doc, &have_doc)))
    goto done;
  x.doc = &doc;
  yaml_node_t *root = have_doc ? yaml_document_get_root_node(&doc) : NULL;
  if (!root) {
    r = dev_cat__fail(&x, NULL, "empty file: expected a mapping with models and/or hubs");
    goto done;
  }
  static const char *const keys[] = {"models", "hubs", NULL};
  if ((r = dev_cat__check_map(&x, root, keys)))
    goto done;
  if (!dev_cat__get(&x, root, "models") && !dev_cat__get(&x, root, "hubs")) {
    r = dev_cat__fail(&x, root, "expected a mapping with models and/or hubs");
    goto done;
  }
  if ((r = parse_list(&x, root, "models", dev_cat__parse_model)) ||
      (r = parse_list(&x, root, "hubs", dev_cat__parse_hub)))
    goto done;
  if (x.n_models == 0 && x.n_hubs == 0) {
    /* An empty list is valid YAML, but a file that adds nothing is a mistake to report. */
    r = dev_cat__fail(&x, root, "the file defines no model and no hub");
    goto done;
  }
  r = commit(c, &x);
done:
  if (have_doc)
    yaml_document_delete(&doc);
  ar_free(&x.ar);
  free(x.models);
  free(x.hubs);
  return r;
}

/* ---- files and directories ---------------------------------------------------------------- */

static int file_error(struct dev_cat_error *err, const char *file, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int file_error(struct dev_cat_error *err, const char *file, int rc, const char *fmt, ...) {
  if (err) {
    memset(err, 0, sizeof(*err));
    snprintf(err->file, sizeof(err->file), "%s", file);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int dir_error(struct dev_cat_error *err, const char *file, int code, const char *what) {
  return file_error(err, file, code == ENOMEM ? SIM_ENOMEM : SIM_ENOTFOUND, "%s: %s", what,
                    strerror(code));
}

/* What a file that is not a regular file is, for the message. */
static const char *file_kind(mode_t m) {
  if (S_ISDIR(m))
    return "a directory";
  if (S_ISFIFO(m))
    return "a FIFO";
  if (S_ISCHR(m))
    return "a character device";
  if (S_ISBLK(m))
    return "a block device";
  if (S_ISSOCK(m))
    return "a socket";
  return "not a regular file";
}

/* Reads the regular file path, at most DEV_CAT_FILE_MAX bytes, into a heap buffer. stat()
 * first, so a device or a FIFO is refused without being opened at all; then open() without
 * blocking (a FIFO swapped in meanwhile cannot hang the start) and fstat() again, because the
 * path may have changed in between. The read stops one byte past the limit, so a file that
 * grows, or lies about its size (/proc), is still bounded. */
static int read_file(const char *path, char **out, size_t *len, struct dev_cat_error *err) {
  struct stat st;
  char *buf = NULL;
  int fd = -1, r = 0;
  if (stat(path, &st) != 0)
    return file_error(err, path, errno == ENOMEM ? SIM_ENOMEM : SIM_EINVAL,
                      "cannot read the catalogue file: %s", strerror(errno));
  if (!S_ISREG(st.st_mode))
    return file_error(err, path, SIM_EINVAL, "is %s, not a regular file", file_kind(st.st_mode));
  fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return file_error(err, path, errno == ENOMEM ? SIM_ENOMEM : SIM_EINVAL,
                      "cannot read the catalogue file: %s", strerror(errno));
  if (fstat(fd, &st) != 0) {
    r = file_error(err, path, SIM_EINVAL, "cannot read the catalogue file: %s", strerror(errno));
    goto done;
  }
  if (!S_ISREG(st.st_mode)) {
    r = file_error(err, path, SIM_EINVAL, "is %s, not a regular file", file_kind(st.st_mode));
    goto done;
  }
  if (st.st_size > DEV_CAT_FILE_MAX) {
    r = file_error(err, path, SIM_EINVAL,
                   "is %lld bytes, more than the %d a catalogue file may "
                   "have",
                   (long long)st.st_size, DEV_CAT_FILE_MAX);
    goto done;
  }
  size_t cap = (size_t)st.st_size + 1, n = 0;
  buf = malloc(cap + 1);
  if (!buf) {
    r = file_error(err, path, SIM_ENOMEM, "out of memory");
    goto done;
  }
  for (;;) {
    if (n == cap) {
      if (cap > DEV_CAT_FILE_MAX) {
        r = file_error(err, path, SIM_EINVAL, "is more than the %d bytes a catalogue file may have",
                       DEV_CAT_FILE_MAX);
        goto done;
      }
      size_t nc = cap * 2 > (size_t)DEV_CAT_FILE_MAX + 1 ? (size_t)DEV_CAT_FILE_MAX + 1 : cap * 2;
      char *nb = realloc(buf, nc + 1);
      if (!nb) {
        r = file_error(err, path, SIM_ENOMEM, "out of memory");
        goto done;
      }
      buf = nb;
      cap = nc;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      r = file_error(err, path, SIM_EINVAL, "cannot read the catalogue file: %s", strerror(errno));
      goto done;
    }
    if (got == 0)
      break;
    n += (size_t)got;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  buf = NULL;
done:
  free(buf);
  close(fd);
  return r;
}

int dev_cat_add_file(struct dev_cat *c, const char *path, struct dev_cat_error *err) {
  char *text = NULL;
  size_t len = 0;
  if (err)
    memset(err, 0, sizeof(*err));
  int r = read_file(path, &text, &len, err);
  if (r)
    return r;
  r = dev_cat_add_text(c, path, text, len, err);
  free(text);
  return r;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int dev_cat_add_dir(struct dev_cat *c, const char *dir, struct dev_cat_error *err) {
  DIR *d = opendir(dir);
  if (!d)
    return dir_error(err, dir, errno, "cannot read the catalogue directory");
  char **names = NULL;
  size_t n = 0, cap = 0;
  int r = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.' || l <= 5 || strcmp(e->d_name + l - 5, ".yaml") != 0)
      continue;
    if (n == DEV_CAT_DIR_FILES_MAX) {
      r = file_error(err, dir, SIM_EINVAL, "more than %d *.yaml files in one catalogue directory",
                     DEV_CAT_DIR_FILES_MAX);
      goto done;
    }
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      char **p = realloc(names, cap * sizeof(*p));
      if (!p) {
        r = dir_error(err, dir, ENOMEM, "listing");
        goto done;
      }
      names = p;
    }
    if (!(names[n] = strdup(e->d_name))) {
      r = dir_error(err, dir, ENOMEM, "listing");
      goto done;
    }
    n++;
  }
  if (n)
    qsort(names, n, sizeof(*names), cmp_names);
  for (size_t i = 0; i < n && !r; i++) {
    char path[4096];
    int pl = snprintf(path, sizeof(path), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                      names[i]);
    if (pl < 0 || (size_t)pl >= sizeof(path)) {
      r = file_error(err, dir, SIM_EINVAL, "the path of %s is longer than %zu bytes", names[i],
                     sizeof(path) - 1);
      break;
    }
    r = dev_cat_add_file(c, path, err);
  }
done:
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  closedir(d);
  return r;
}

int dev_cat_add_builtin(struct dev_cat *c, struct dev_cat_error *err) {
  const char *name;
  size_t len;
  const char *text;
  for (size_t i = 0; (text = dev_cat__builtin_file(i, &name, &len)); i++) {
    char path[256];
    snprintf(path, sizeof(path), "devices/catalog/%s", name);
    int r = dev_cat_add_text(c, path, text, len, err);
    if (r)
      return r;
  }
  return 0;
}

const char *dev_cat_action_name(uint8_t action) {
  static const char *const n[] = {"?",   "set",  "on",     "off",   "toggle",
                                  "arg", "stop", "detect", "follow"};
  return action < sizeof n / sizeof n[0] ? n[action] : "?";
}

const struct dev_cat_model *dev_cat_find(const struct dev_cat *c, const char *model_id) {
  if (!c || !model_id)
    return NULL;
  for (size_t i = 0; i < c->n_models; i++)
    if (strcmp(c->models[i]->m.model_id, model_id) == 0)
      return c->models[i];
  return NULL;
}

const struct dev_cat_hub *dev_cat_find_hub(const struct dev_cat *c, const char *model_id) {
  if (!c || !model_id)
    return NULL;
  for (size_t i = 0; i < c->n_hubs; i++)
    if (strcmp(c->hubs[i].model_id, model_id) == 0)
      return &c->hubs[i];
  return NULL;
}

const struct dev_cat_hub *dev_cat_default_hub(const struct dev_cat *c) {
  for (size_t i = 0; c && i < c->n_hubs; i++)
    if (c->hubs[i].is_default)
      return &c->hubs[i];
  return NULL;
}

int dev_cat_channel_find(const struct dev_cat_model *cm, const char *name) {
  if (!cm || !name)
    return -1;
  for (int i = 0; i < cm->n_ch; i++)
    if (strcmp(cm->ch[i].name, name) == 0)
      return i;
  return -1;
}
