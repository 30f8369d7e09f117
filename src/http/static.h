/* The web application's files (web/dist), served to browsers without
 * credentials: the files are public, the data behind /api/v1 is not.
 *
 * Every file is read into memory when the server starts, and a request is
 * answered only by an exact match against the names read then, so no
 * request path (with "..", "%2e", a symlink, a NUL) can reach a file
 * outside the directory. A path that names no file and does not look like
 * one (no extension in its last segment) answers index.html, so the
 * application's own routes (/studies/3) survive a reload. /api/, /healthz
 * and /metrics are never answered here. */
#ifndef CTMS_STATIC_H
#define CTMS_STATIC_H

#include <stdbool.h>

#include "util/err.h"

struct request;

/* Reads every regular file under dir (dot-files and symlinks skipped; at
 * most 2000 files and 64 MiB). A dir that does not exist is not an error:
 * nothing is served and *loaded is false. Returns 0, or CTMS_EIO when the
 * directory exists but cannot be read whole. Not thread-safe: call before
 * the server starts. */
int static_load(const char *dir, bool *loaded, struct err *e);

/* The default directory: web/dist of the source tree the binary was built
 * in, as ../web/dist beside the binary's own directory. Writes it to out
 * (len bytes); returns 0, or CTMS_EIO when the binary's path is unknown. */
int static_default_dir(char *out, size_t len);

/* Answers r from the loaded files when it is a GET or HEAD the web
 * application owns; returns false (r untouched) otherwise. Safe from any
 * thread once loading is done. */
bool static_serve(struct request *r);

/* Frees the loaded files. */
void static_release(void);

#endif
