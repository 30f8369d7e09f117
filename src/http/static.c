#include "http/static.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/request.h"
#include "util/buf.h"

#define STATIC_MAX_FILES 2000
#define STATIC_MAX_BYTES ((size_t)64 << 20)
#define STATIC_MAX_DEPTH 8

struct static_file {
	char *path; /* "/assets/index-1a2b3c4d.js": the URL path */
	char *data;
	size_t len;
	const char *content_type;
	bool immutable; /* a content-hashed name: cached for a year */
};

static struct {
	struct static_file *files;
	size_t n;
	size_t bytes;
	const struct static_file *index;
} site;

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".json", "application/json"},
	{".map", "application/json"},
	{".webmanifest", "application/manifest+json"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".jpg", "image/jpeg"},
	{".ico", "image/x-icon"},
	{".woff2", "font/woff2"},
	{".woff", "font/woff"},
	{".txt", "text/plain; charset=utf-8"},
};

/* The application is its own origin's only script; charts and the Gantt
 * set inline styles. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
			  "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
			  "base-uri 'none'; form-action 'self'";

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot)
		for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
			if (!strcmp(dot, content_types[i].ext))
				return content_types[i].type;
	return "application/octet-stream";
}

/* Vite names built assets "name-HASH.ext" under /assets/: such a name never
 * changes content, so browsers may keep it. */
static bool is_immutable(const char *path)
{
	return !strncmp(path, "/assets/", 8);
}

static int read_file(const char *fs_path, const char *url_path, off_t size, struct err *e)
{
	struct static_file *f;
	FILE *in;

	if (site.n >= STATIC_MAX_FILES || site.bytes + (size_t)size > STATIC_MAX_BYTES)
		return err_set(e, CTMS_EIO, "the web directory holds more than %d files or %zu bytes",
			       STATIC_MAX_FILES, STATIC_MAX_BYTES);
	if (!(in = fopen(fs_path, "rb")))
		return err_set(e, CTMS_EIO, "cannot read %s: %s", fs_path, strerror(errno));
	site.files = xrealloc(site.files, (site.n + 1) * sizeof(*site.files));
	f = &site.files[site.n];
	f->data = xmalloc((size_t)size + 1);
	f->len = fread(f->data, 1, (size_t)size, in);
	fclose(in);
	if (f->len != (size_t)size) {
		free(f->data);
		return err_set(e, CTMS_EIO, "cannot read %s whole", fs_path);
	}
	f->path = xstrdup(url_path);
	f->content_type = type_of(url_path);
	f->immutable = is_immutable(url_path);
	site.bytes += f->len;
	site.n++;
	return 0;
}

static int load_dir(const char *fs_dir, const char *url_dir, int depth, struct err *e)
{
	DIR *d;
	struct dirent *ent;
	int rc = 0;

	if (depth > STATIC_MAX_DEPTH)
		return 0;
	if (!(d = opendir(fs_dir)))
		return err_set(e, CTMS_EIO, "cannot read %s: %s", fs_dir, strerror(errno));
	while (!rc && (ent = readdir(d))) {
		char fs_path[PATH_MAX], url_path[PATH_MAX];
		struct stat st;
		if (ent->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(fs_path, sizeof(fs_path), "%s/%s", fs_dir, ent->d_name) >=
			    sizeof(fs_path) ||
		    (size_t)snprintf(url_path, sizeof(url_path), "%s/%s", url_dir, ent->d_name) >=
			    sizeof(url_path))
			continue;
		if (lstat(fs_path, &st))
			continue;
		if (S_ISDIR(st.st_mode))
			rc = load_dir(fs_path, url_path, depth + 1, e);
		else if (S_ISREG(st.st_mode))
			rc = read_file(fs_path, url_path, st.st_size, e);
	}
	closedir(d);
	return rc;
}

int static_load(const char *dir, bool *loaded, struct err *e)
{
	struct stat st;
	int rc;

	*loaded = false;
	static_release();
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return 0;
	if ((rc = load_dir(dir, "", 0, e))) {
		static_release();
		return rc;
	}
	for (size_t i = 0; i < site.n; i++)
		if (!strcmp(site.files[i].path, "/index.html"))
			site.index = &site.files[i];
	*loaded = site.n > 0;
	return 0;
}

int static_default_dir(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return CTMS_EIO;
	self[n] = '\0';
	if (!(slash = strrchr(self, '/')))
		return CTMS_EIO;
	*slash = '\0';
	if ((size_t)snprintf(out, len, "%s/../web/dist", self) >= len)
		return CTMS_EIO;
	return 0;
}

void static_release(void)
{
	for (size_t i = 0; i < site.n; i++) {
		free(site.files[i].path);
		free(site.files[i].data);
	}
	free(site.files);
	memset(&site, 0, sizeof(site));
}

/* Paths that belong to the API or to operators, never to the application. */
static bool reserved(const char *path)
{
	return !strncmp(path, "/api/", 5) || !strcmp(path, "/api") || !strcmp(path, "/healthz") ||
	       !strcmp(path, "/metrics");
}

/* The last segment has a dot: a file was asked for, not an application route. */
static bool looks_like_file(const char *path)
{
	const char *last = strrchr(path, '/');
	return strchr(last ? last : path, '.') != NULL;
}

static const struct static_file *find(const char *path)
{
	if (!strcmp(path, "/"))
		return site.index;
	for (size_t i = 0; i < site.n; i++)
		if (!strcmp(site.files[i].path, path))
			return &site.files[i];
	if (looks_like_file(path))
		return NULL;
	return site.index;
}

bool static_serve(struct request *r)
{
	const struct static_file *f;

	if (!site.n || (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) ||
	    r->path[0] != '/' || reserved(r->path))
		return false;
	if (!(f = find(r->path)))
		return false;
	r->status = 200;
	r->reply = xmalloc(f->len ? f->len : 1);
	memcpy(r->reply, f->data, f->len);
	r->reply_len = f->len;
	r->content_type = f->content_type;
	r->cache_control = f->immutable ? "public, max-age=31536000, immutable" : "no-cache";
	if (f == site.index)
		r->content_security_policy = csp;
	return true;
}
