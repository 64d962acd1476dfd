// SPDX-License-Identifier: MIT
#include "boot/modules.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "boot/decompress.h"
#include "boot/elf_file.h"

/* modules.dep and modules.builtin: Debian's are 500 KiB and 50 KiB. */
#define MODULES_MAX_INDEX ((size_t)64 << 20)
/* Real chains are a handful deep; more means a loop depmod would not write. */
#define MODULES_MAX_DEPTH 128

/* What modules.order may list as "x.ko" when the package compressed it. */
static const char *const modules_suffixes[] = { "", ".xz", ".zst", ".gz" };

enum modules_state {
	MODULES_UNSEEN,
	MODULES_VISITING,
	MODULES_DONE,
};

/* One line of modules.dep (or of modules.order), pointing into the file's text. */
struct modules_dep {
	char *path;		/* "kernel/fs/9p/9p.ko" */
	char *deps;		/* "kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko"; NULL from modules.order */
	enum modules_state state;
};

/* Everything one modules_load() call works with. */
struct modules_ctx {
	const char *rootfs;
	int root_fd;
	bool root_is_host;
	char *dir;		/* "lib/modules/<release>", inside the rootfs */
	bool from_order;	/* no modules.dep (depmod never ran): modules.order and .modinfo */
	char *dep_text;
	struct modules_dep *deps;
	size_t n_deps;
	char *builtin_text;
	struct modules_list *list;
	size_t depth;
};

struct modules_list *modules_list_free(struct modules_list *list)
{
	if (!list)
		return NULL;
	for (size_t i = 0; i < list->n; i++) {
		free(list->files[i].name);
		free(list->files[i].path);
		free(list->files[i].data);
	}
	free(list->files);
	free(list);
	return NULL;
}

static void modules_list_freep(struct modules_list **l)
{
	modules_list_free(*l);
}

static void modules_ctx_done(struct modules_ctx *x)
{
	if (x->root_fd >= 0)
		close(x->root_fd);
	free(x->dir);
	free(x->dep_text);
	free(x->deps);
	free(x->builtin_text);
	modules_list_free(x->list);
}

/* The file that lists the modules: what messages name. */
static const char *modules_index(const struct modules_ctx *x)
{
	return x->from_order ? "modules.order" : "modules.dep";
}

/* How a path inside the rootfs reads in a message: the host's view of it. */
static const char *modules_show(const struct modules_ctx *x, const char *path, char *buf,
				size_t size)
{
	int n = (int)strlen(x->rootfs);

	while (n > 0 && x->rootfs[n - 1] == '/')
		n--;
	snprintf(buf, size, "%.*s%s%s", n, x->rootfs, path[0] == '/' ? "" : "/", path);
	return buf;
}

/*
 * openat2 with RESOLVE_IN_ROOT: the rootfs is "/" for every path and
 * symlink followed.  Seccomp profiles of older container runtimes answer
 * ENOSYS to openat2; for the host's own root a plain openat is the same.
 * openat2 refuses O_PATH combined with most other flags, O_NOCTTY included.
 */
static int modules_open(const struct modules_ctx *x, const char *path, int flags)
{
	struct open_how how = {
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	flags |= O_CLOEXEC | (flags & O_PATH ? 0 : O_NOCTTY);
	how.flags = (uint64_t)flags;
	fd = (int)syscall(SYS_openat2, x->root_fd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS && x->root_is_host)
		fd = openat(x->root_fd, path, flags);
	return fd < 0 ? -errno : fd;
}

/* A whole file of the rootfs, NUL-terminated, at most max bytes. */
static int modules_read(const struct modules_ctx *x, const char *path, size_t max,
			char **ret_buf, size_t *ret_len, struct error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	char shown[4096];
	struct stat st;
	size_t len = 0;
	int r;

	/* O_NONBLOCK: a FIFO in place of a module must not hang us. */
	fd = modules_open(x, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return error_set_errno(err, -fd, "%s", modules_show(x, path, shown, sizeof(shown)));
	if (fstat(fd, &st) < 0)
		return error_set_errno(err, errno, "%s", modules_show(x, path, shown, sizeof(shown)));
	if (!S_ISREG(st.st_mode))
		return error_set(err, EINVAL, "%s: not a regular file",
				 modules_show(x, path, shown, sizeof(shown)));
	if ((uint64_t)st.st_size > max)
		return error_set(err, EFBIG, "%s: larger than %zu MiB",
				 modules_show(x, path, shown, sizeof(shown)), max >> 20);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return error_set(err, ENOMEM, "out of memory");
	r = io_read_all(fd, buf, (size_t)st.st_size, &len);
	if (r < 0)
		return error_set_errno(err, -r, "%s", modules_show(x, path, shown, sizeof(shown)));
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/*
 * The module name a path or a name stands for, as the kernel sees it:
 * the file name without ".ko" and what follows, '-' spelt '_'.
 */
static void modules_name_of(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/'), *ext;
	size_t n;

	base = base ? base + 1 : path;
	ext = strstr(base, ".ko");
	n = ext ? (size_t)(ext - base) : strlen(base);
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[n] = '\0';
}

static bool modules_name_equal(const char *path, const char *name)
{
	char a[256], b[256];

	modules_name_of(path, a, sizeof(a));
	modules_name_of(name, b, sizeof(b));
	return strcmp(a, b) == 0;
}

static char *modules_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * Split modules.dep into its lines ("path: dep dep ..."), or modules.order
 * into its paths, in place.
 */
static int modules_parse_dep(struct modules_ctx *x, size_t len, struct error *err)
{
	char *line = x->dep_text, *end = x->dep_text + len;
	size_t n_lines = 1, lineno = 0;

	for (char *p = line; p < end; p++)
		n_lines += *p == '\n';
	x->deps = calloc(n_lines, sizeof(*x->deps));
	if (!x->deps)
		return error_set(err, ENOMEM, "out of memory");
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line)), *colon;

		if (nl)
			*nl = '\0';
		lineno++;
		colon = x->from_order ? NULL : strchr(line, ':');
		if (x->from_order && *modules_trim(line) != '\0') {
			x->deps[x->n_deps++] = (struct modules_dep){ modules_trim(line), NULL };
		} else if (colon) {
			*colon = '\0';
			x->deps[x->n_deps++] = (struct modules_dep){ modules_trim(line),
								     modules_trim(colon + 1) };
		} else if (*modules_trim(line) != '\0') {
			return error_set(err, EINVAL, "%s/modules.dep:%zu: no ':' in the line",
					 x->dir, lineno);
		}
		line = nl ? nl + 1 : end;
	}
	return 0;
}

static struct modules_dep *modules_find_path(struct modules_ctx *x, const char *path)
{
	for (size_t i = 0; i < x->n_deps; i++)
		if (strcmp(x->deps[i].path, path) == 0)
			return &x->deps[i];
	return NULL;
}

static struct modules_dep *modules_find_name(struct modules_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->n_deps; i++)
		if (modules_name_equal(x->deps[i].path, name))
			return &x->deps[i];
	return NULL;
}

/* modules.builtin lists one path per line, like modules.dep's left side. */
static bool modules_is_builtin(const struct modules_ctx *x, const char *name)
{
	const char *line = x->builtin_text;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char path[4096];

		if (n < sizeof(path)) {
			memcpy(path, line, n);
			path[n] = '\0';
			if (modules_name_equal(path, name))
				return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static bool modules_listed(const struct modules_ctx *x, const char *path)
{
	for (size_t i = 0; i < x->list->n; i++)
		if (strcmp(x->list->files[i].path, path) == 0)
			return true;
	return false;
}

/* The module as the kernel's init_module() takes it: an uncompressed ELF. */
static int modules_decompress(const char *shown, char *raw, size_t raw_len, void **ret_data,
			      size_t *ret_len, struct error *err)
{
	enum decompress_format f = decompress_detect(raw, raw_len);
	void *data = NULL;
	size_t len = raw_len;
	int r;

	if (f == DECOMPRESS_NONE) {
		data = raw;
	} else {
		r = decompress_buffer(f, raw, raw_len, 0, MODULES_MAX_SIZE, &data, &len, err);
		free(raw);
		if (r < 0)
			return error_prefix(err, "%s", shown);
	}
	if (!elf_file_is_elf(data, len)) {
		free(data);
		return error_set(err, ENOEXEC, "%s: not a kernel module (no ELF header)", shown);
	}
	*ret_data = data;
	*ret_len = len;
	return 0;
}

static int modules_list_push(struct modules_list *l, struct modules_file *f, struct error *err)
{
	struct modules_file *files = reallocarray(l->files, l->n + 1, sizeof(*files));

	if (!files)
		return error_set(err, ENOMEM, "out of memory");
	l->files = files;
	l->files[l->n++] = *f;
	return 0;
}

static void modules_file_done(struct modules_file *f)
{
	free(f->name);
	free(f->path);
	free(f->data);
}

/*
 * A module's file, read whole: the path as written, or, from modules.order,
 * which names "x.ko" whatever the package did, that path compressed.
 */
static int modules_read_raw(const struct modules_ctx *x, char **path, char **ret_raw,
			    size_t *ret_len, struct error *err)
{
	size_t n = x->from_order ? ARRAY_SIZE(modules_suffixes) : 1;
	int r = -ENOENT;

	for (size_t i = 0; i < n && r == -ENOENT; i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s%s", *path, modules_suffixes[i]) < 0)
			return error_set(err, ENOMEM, "out of memory");
		r = modules_read(x, p, MODULES_MAX_SIZE, ret_raw, ret_len, err);
		if (r == 0) {
			free(*path);
			*path = TAKE_PTR(p);
		}
	}
	return r;
}

/* After reading f with result r: onto the list, or freed on any failure. */
static int modules_keep(struct modules_ctx *x, struct modules_file *f, int r, struct error *err)
{
	if (r == 0)
		r = modules_list_push(x->list, f, err);
	if (r < 0)
		modules_file_done(f);
	return r;
}

/* A path as modules.dep or modules.order writes it, from the rootfs's top. */
static int modules_full_path(const struct modules_ctx *x, const char *dep_path, char **ret_path,
			     struct error *err)
{
	int r;

	if (dep_path[0] == '/')
		r = asprintf(ret_path, "%s", dep_path);
	else
		r = asprintf(ret_path, "%s/%s", x->dir, dep_path);
	if (r < 0) {
		*ret_path = NULL;
		return error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* One module (dep_path as modules.dep or modules.order writes it), decompressed. */
static int modules_read_module(const struct modules_ctx *x, const char *dep_path,
			       struct modules_file *ret_file, struct error *err)
{
	_cleanup_free_ char *path = NULL, *raw = NULL, *name = NULL;
	_cleanup_free_ void *data = NULL;
	char shown[4096], base[256];
	size_t raw_len, len = 0;
	int r;

	r = modules_full_path(x, dep_path, &path, err);
	if (r < 0)
		return r;
	r = modules_read_raw(x, &path, &raw, &raw_len, err);
	if (r < 0)
		return r;
	modules_show(x, path, shown, sizeof(shown));
	r = modules_decompress(shown, TAKE_PTR(raw), raw_len, &data, &len, err);
	if (r < 0)
		return r;
	modules_name_of(path, base, sizeof(base));
	name = strdup(base);
	if (!name)
		return error_set(err, ENOMEM, "out of memory");
	*ret_file = (struct modules_file){ TAKE_PTR(name), TAKE_PTR(path), TAKE_PTR(data), len };
	return 0;
}

/* Read one module (dep_path as modules.dep writes it) onto the end of the list. */
static int modules_append(struct modules_ctx *x, const char *dep_path, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	struct modules_file f = { 0 };
	int r;

	r = modules_full_path(x, dep_path, &path, err);
	if (r < 0 || modules_listed(x, path))
		return r;
	r = modules_read_module(x, dep_path, &f, err);
	return modules_keep(x, &f, r, err);
}

static int modules_visit(struct modules_ctx *x, struct modules_dep *d, const char *path,
			 struct error *err);

/*
 * A module's dependencies, last first: modules.dep lists a module's whole
 * closure with each entry's own dependencies after it, so loading from the
 * end is the order modprobe uses.
 */
static int modules_visit_deps(struct modules_ctx *x, struct modules_dep *d, struct error *err)
{
	_cleanup_free_ char **words = NULL;
	size_t n = 0, cap = strlen(d->deps) / 2 + 1;
	char *save = NULL;
	int r;

	words = calloc(cap, sizeof(*words));
	if (!words)
		return error_set(err, ENOMEM, "out of memory");
	for (char *w = strtok_r(d->deps, " \t", &save); w && n < cap;
	     w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	while (n-- > 0) {
		r = modules_visit(x, modules_find_path(x, words[n]), words[n], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The names in a module's "depends=" (comma-separated, maybe empty), as
 * depmod reads them from the .modinfo section to write modules.dep.
 */
static int modules_modinfo_depends(const struct modules_file *f, const char *shown, char *buf,
				   size_t size, struct error *err)
{
	struct elf_file e;
	const char *p, *end;
	size_t off, len;
	int r;

	r = elf_file_open(&e, f->data, f->len, shown, err);
	if (r < 0)
		return r;
	r = elf_file_section(&e, ".modinfo", &off, &len, err);
	if (r == -ENOENT)
		return error_set(err, ENOEXEC, "%s: not a kernel module (no .modinfo section)", shown);
	if (r < 0)
		return r;
	buf[0] = '\0';
	for (p = (const char *)e.buf + off, end = p + len; p < end;) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);

		if (n >= strlen("depends=") && memcmp(p, "depends=", strlen("depends=")) == 0) {
			n -= strlen("depends=");
			if (n >= size)
				return error_set(err, E2BIG, "%s: its .modinfo lists %zu bytes of dependencies",
						 shown, n);
			memcpy(buf, p + strlen("depends="), n);
			buf[n] = '\0';
			return 0;
		}
		p += n + 1;
	}
	return 0;
}

/* One name of a module's depends=, loaded (with what it needs) unless built in. */
static int modules_visit_name(struct modules_ctx *x, const char *shown, const char *name,
			      struct error *err)
{
	struct modules_dep *d;
	char dir[4096];

	if (modules_is_builtin(x, name))
		return 0;
	d = modules_find_name(x, name);
	if (!d)
		return error_set(err, ENOENT,
				 "%s needs kernel module '%s', which is neither built in nor listed in "
				 "%s/modules.order", shown, name, modules_show(x, x->dir, dir, sizeof(dir)));
	return modules_visit(x, d, d->path, err);
}

/*
 * A rootfs made by unpacking a kernel package has no modules.dep: depmod
 * runs in the package's postinst.  What depmod would write comes from each
 * module's own .modinfo, read along the closure needed: the module first,
 * then what it depends on, then the module is appended after them.
 */
static int modules_visit_modinfo(struct modules_ctx *x, struct modules_dep *d, struct error *err)
{
	struct modules_file f = { 0 };
	char depends[4096], shown[4096];
	char *save = NULL;
	int r;

	r = modules_read_module(x, d->path, &f, err);
	if (r < 0)
		return r;
	modules_show(x, f.path, shown, sizeof(shown));
	r = modules_modinfo_depends(&f, shown, depends, sizeof(depends), err);
	for (char *name = strtok_r(depends, ",", &save); r == 0 && name;
	     name = strtok_r(NULL, ",", &save))
		r = modules_visit_name(x, shown, modules_trim(name), err);
	return modules_keep(x, &f, r, err);
}

/* Depth-first: a module's dependencies, then the module; each once. */
static int modules_visit(struct modules_ctx *x, struct modules_dep *d, const char *path,
			 struct error *err)
{
	int r;

	/* A dependency without its own line: load it, it needs nothing. */
	if (!d)
		return modules_append(x, path, err);
	if (d->state == MODULES_DONE)
		return 0;
	if (d->state == MODULES_VISITING || x->depth >= MODULES_MAX_DEPTH)
		return error_set(err, ELOOP, "%s/%s: dependency loop through %s", x->dir,
				 modules_index(x), d->path);
	d->state = MODULES_VISITING;
	x->depth++;
	if (x->from_order) {
		r = modules_visit_modinfo(x, d, err);
	} else {
		r = modules_visit_deps(x, d, err);
		if (r == 0)
			r = modules_append(x, d->path, err);
	}
	x->depth--;
	if (r < 0)
		return r;
	d->state = MODULES_DONE;
	return 0;
}

static int modules_want(struct modules_ctx *x, const char *name, size_t index, struct error *err)
{
	struct modules_dep *d;
	char shown[4096];

	bool optional = name[0] == '?';

	name += optional;
	if (modules_is_builtin(x, name))
		return 0;
	d = modules_find_name(x, name);
	/* Some drivers can only be built in, and modules.builtin lists only
	 * those that could be modules (s390's virtio_ccw). */
	if (!d && optional) {
		if (index < 64)
			x->list->absent |= 1ull << index;
		return 0;
	}
	if (!d)
		return error_set(err, ENOENT,
				 "kernel module '%s' is neither built in nor listed in %s/%s",
				 name, modules_show(x, x->dir, shown, sizeof(shown)), modules_index(x));
	return modules_visit(x, d, d->path, err);
}

/*
 * modules.dep, or where depmod never ran (a kernel package unpacked with
 * dpkg-deb -x) modules.order, which the package ships.  Neither: say what
 * to run.
 */
static int modules_read_list(struct modules_ctx *x, size_t *ret_len, struct error *err)
{
	_cleanup_free_ char *dep = NULL, *order = NULL;
	char shown[4096];
	int r;

	if (asprintf(&dep, "%s/modules.dep", x->dir) < 0 ||
	    asprintf(&order, "%s/modules.order", x->dir) < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = modules_read(x, dep, MODULES_MAX_INDEX, &x->dep_text, ret_len, err);
	if (r != -ENOENT)
		return r;
	x->from_order = true;
	r = modules_read(x, order, MODULES_MAX_INDEX, &x->dep_text, ret_len, err);
	if (r == -ENOENT)
		return error_set(err, ENOENT,
				 "%s has neither modules.dep nor modules.order; run: depmod -b %s %s",
				 modules_show(x, x->dir, shown, sizeof(shown)), x->rootfs,
				 x->dir + strlen("lib/modules/"));
	return r;
}

/* modules.builtin may be absent (kernels before 2.6.33): nothing is built in. */
static int modules_read_indexes(struct modules_ctx *x, struct error *err)
{
	_cleanup_free_ char *builtin = NULL;
	size_t len, builtin_len;
	int r;

	if (asprintf(&builtin, "%s/modules.builtin", x->dir) < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = modules_read_list(x, &len, err);
	if (r < 0)
		return r;
	r = modules_parse_dep(x, len, err);
	if (r < 0)
		return r;
	r = modules_read(x, builtin, MODULES_MAX_INDEX, &x->builtin_text, &builtin_len, err);
	if (r == -ENOENT)
		r = 0;
	return r;
}

static bool modules_release_valid(const char *release)
{
	return release[0] != '\0' && !strchr(release, '/') && strcmp(release, ".") != 0 &&
	       strcmp(release, "..") != 0;
}

/* Open the rootfs; 0 when the release has a modules directory, MODULES_NO_DIR if not. */
static int modules_open_dir(struct modules_ctx *x, const char *release, struct error *err)
{
	char shown[4096];
	int fd;

	if (!modules_release_valid(release))
		return error_set(err, EINVAL, "bad kernel release '%s'", release);
	x->root_fd = open(x->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (x->root_fd < 0)
		return error_set_errno(err, errno, "rootfs %s", x->rootfs);
	if (asprintf(&x->dir, "lib/modules/%s", release) < 0) {
		x->dir = NULL;
		return error_set(err, ENOMEM, "out of memory");
	}
	fd = modules_open(x, x->dir, O_PATH | O_DIRECTORY);
	if (fd == -ENOENT)
		return MODULES_NO_DIR;
	if (fd < 0)
		return error_set_errno(err, -fd, "%s", modules_show(x, x->dir, shown, sizeof(shown)));
	close(fd);
	return 0;
}

int modules_load(const char *rootfs, const char *release, const char *const *names,
		 size_t n_names, struct modules_list **ret_list, struct error *err)
{
	struct modules_ctx x = { .rootfs = rootfs, .root_fd = -1 };
	_cleanup_(modules_list_freep) struct modules_list *list = NULL;
	int r;

	x.root_is_host = strcmp(rootfs, "/") == 0;
	x.list = calloc(1, sizeof(*x.list));
	if (!x.list)
		return error_set(err, ENOMEM, "out of memory");
	r = modules_open_dir(&x, release, err);
	if (r == 0)
		r = modules_read_indexes(&x, err);
	for (size_t i = 0; r == 0 && i < n_names; i++)
		r = modules_want(&x, names[i], i, err);
	if (r >= 0)
		list = TAKE_PTR(x.list);
	modules_ctx_done(&x);
	if (r < 0)
		return r;
	*ret_list = TAKE_PTR(list);
	return r;
}
