// SPDX-License-Identifier: MIT
#include "boot/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"

/* Odd 64-bit constants with well-mixed bits (from the golden ratio and xxHash's choices). */
#define CACHE_P1 0x9e3779b185ebca87ULL
#define CACHE_P2 0xc2b2ae3d27d4eb4fULL
#define CACHE_P3 0x165667b19e3779f9ULL
#define CACHE_P4 0x27d4eb2f165667c5ULL

/* The user's home: $HOME, else the password database. */
static const char *cache_home(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home && home[0] == '/')
		return home;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/* Where to turn when the cache cannot be written. */
static int cache_add_hint(struct error *err)
{
	size_t n = strlen(err->msg);

	snprintf(err->msg + n, sizeof(err->msg) - n,
		 " (XDG_CACHE_HOME chooses another place for vmtest's cache)");
	return -err->code;
}

/* mkdir -p with mode 0700 for what is missing; existing parts are left alone. */
static int cache_mkdir_p(const char *path, struct error *err)
{
	_cleanup_free_ char *copy = strdup(path);
	struct stat st;

	if (!copy)
		return error_set(err, ENOMEM, "out of memory");
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
			error_set_errno(err, errno, "cannot create cache directory %s", copy);
			return cache_add_hint(err);
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (stat(path, &st) < 0)
		return error_set_errno(err, errno, "cache directory %s", path);
	if (!S_ISDIR(st.st_mode))
		return error_set(err, ENOTDIR, "cache directory %s is not a directory", path);
	return 0;
}

int cache_dir_get(char **ret_dir, struct error *err)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home;
	_cleanup_free_ char *dir = NULL;
	int r;

	/* The XDG spec says a relative $XDG_CACHE_HOME is invalid: ignore it. */
	if (xdg && xdg[0] == '/') {
		r = asprintf(&dir, "%s/vmtest", xdg);
	} else {
		home = cache_home();
		if (!home)
			return error_set(err, ENOENT,
					 "no cache directory: neither $XDG_CACHE_HOME nor $HOME is set");
		r = asprintf(&dir, "%s/.cache/vmtest", home);
	}
	if (r < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = cache_mkdir_p(dir, err);
	if (r < 0)
		return r;
	*ret_dir = TAKE_PTR(dir);
	return 0;
}

static uint64_t cache_rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t cache_load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* One lane's step: multiply-rotate-multiply spreads each input bit widely. */
static uint64_t cache_round(uint64_t acc, uint64_t v)
{
	acc += v * CACHE_P2;
	acc = cache_rotl(acc, 31);
	return acc * CACHE_P1;
}

/* Make every output bit depend on every input bit. */
static uint64_t cache_avalanche(uint64_t h)
{
	h ^= h >> 33;
	h *= CACHE_P2;
	h ^= h >> 29;
	h *= CACHE_P3;
	h ^= h >> 32;
	return h;
}

/*
 * Four independent lanes over 32-byte blocks keep the CPU's multipliers
 * busy, so hashing a kernel costs a few milliseconds; the tail goes byte by
 * byte.  Words are read in host order: the cache is never shared between
 * hosts of different endianness.
 */
uint64_t cache_hash(const void *buf, size_t len)
{
	const unsigned char *p = buf, *end = p + len;
	uint64_t a = CACHE_P1 + CACHE_P2, b = CACHE_P2, c = 0, d = -CACHE_P1;
	uint64_t h;

	for (; end - p >= 32; p += 32) {
		a = cache_round(a, cache_load64(p));
		b = cache_round(b, cache_load64(p + 8));
		c = cache_round(c, cache_load64(p + 16));
		d = cache_round(d, cache_load64(p + 24));
	}
	h = cache_rotl(a, 1) + cache_rotl(b, 7) + cache_rotl(c, 12) + cache_rotl(d, 18);
	h = (h ^ cache_round(0, a)) * CACHE_P1 + CACHE_P4;
	h = (h ^ cache_round(0, b)) * CACHE_P1 + CACHE_P4;
	h = (h ^ cache_round(0, c)) * CACHE_P1 + CACHE_P4;
	h = (h ^ cache_round(0, d)) * CACHE_P1 + CACHE_P4;
	h += (uint64_t)len;
	for (; p < end; p++)
		h = cache_rotl(h ^ (*p * CACHE_P4), 11) * CACHE_P1;
	return cache_avalanche(h);
}

static int cache_write_tmp(int fd, const char *tmp, const void *buf, size_t len,
			   struct error *err)
{
	int r = io_write_all(fd, buf, len);

	if (r < 0)
		return error_set_errno(err, -r, "cannot write %s", tmp);
	if (fsync(fd) < 0)
		return error_set_errno(err, errno, "cannot write %s", tmp);
	return 0;
}

int cache_write(const char *dir, const char *name, const void *buf, size_t len,
		struct error *err)
{
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, name) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return error_set(err, ENOMEM, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_set_errno(err, errno, "cannot create a file in %s", dir);
	r = cache_write_tmp(fd, tmp, buf, len, err);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return cache_publish(fd, tmp, path, err);
}

/* --- trust ----------------------------------------------------------------- */

/* The key in the user keyring holding the records, one a line:
 * "DEV INO SIZE CTIME_S CTIME_NS PATH". */
#define CACHE_TRUST_KEY "vmtest:cache-trust"
/* Under the 20,000 bytes a non-root user may keep in keys by default. */
#define CACHE_TRUST_MAX 16000

static pthread_mutex_t cache_trust_lock = PTHREAD_MUTEX_INITIALIZER;

bool cache_trust_available(void)
{
	/* 0: not tried; 1: yes; 2: no. */
	static int known;
	int answer = __atomic_load_n(&known, __ATOMIC_SEQ_CST);

	if (!answer) {
		answer = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1) >= 0 ? 1 : 2;
		__atomic_store_n(&known, answer, __ATOMIC_SEQ_CST);
	}
	return answer == 1;
}

/* The records, NUL-terminated (empty when none); *ret_len their length. */
static char *cache_trust_read(size_t *ret_len)
{
	char *buf = calloc(1, CACHE_TRUST_MAX + 1);
	long key, n;

	*ret_len = 0;
	if (!buf)
		return NULL;
	key = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", CACHE_TRUST_KEY, 0);
	n = key >= 0 ? syscall(SYS_keyctl, KEYCTL_READ, key, buf, CACHE_TRUST_MAX) : -1;
	if (n > 0 && n <= CACHE_TRUST_MAX)
		*ret_len = (size_t)n;
	buf[*ret_len] = '\0';
	return buf;
}

static void cache_trust_line(const struct stat *st, const char *path, char *line, size_t size)
{
	snprintf(line, size, "%llu %llu %lld %lld %ld %s\n", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino, (long long)st->st_size,
		 (long long)st->st_ctim.tv_sec, (long)st->st_ctim.tv_nsec, path);
}

/* The records without those for path, then without the oldest until room bytes fit. */
static size_t cache_trust_drop(char *text, size_t len, const char *path, size_t room)
{
	size_t out = 0, start = 0, path_len = strlen(path);

	for (char *line = text; line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		size_t n = nl ? (size_t)(nl + 1 - line) : (size_t)(text + len - line);
		const char *p = line;

		for (int spaces = 0; spaces < 5 && p < line + n; p++)
			spaces += *p == ' ';
		if ((size_t)(line + n - p) != path_len + 1 || memcmp(p, path, path_len) != 0) {
			memmove(text + out, line, n);
			out += n;
		}
		line += n;
	}
	while (out - start + room > CACHE_TRUST_MAX) {
		char *nl = memchr(text + start, '\n', out - start);

		start = nl ? (size_t)(nl + 1 - text) : out;
	}
	memmove(text, text + start, out - start);
	return out - start;
}

/*
 * Every vmtest process of the user rewrites the same key: one at a time,
 * or a record written meanwhile by another is lost (and its file made
 * again).  The lock is a name in the abstract socket namespace, which
 * bind() takes for one socket only and which goes with its holder, even
 * one that is killed; no guest reaches it, unlike a lock file in a cache
 * a guest may share.  Waited for 2 s at most, then done without: someone
 * holding it for ever costs records, not the run.
 */
static int cache_trust_hold(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int n = snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "vmtest-cache-trust-%u",
			 (unsigned)getuid());
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);

	for (int i = 0; fd >= 0 && i < 400; i++) {
		if (bind(fd, (struct sockaddr *)&addr, len) == 0)
			return fd;
		if (errno != EADDRINUSE)
			break;
		usleep(5000);
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The records are the user's: one writer at a time, of this process's
 * threads and of the user's other vmtest processes. */
static int cache_trust_lock_take(void)
{
	pthread_mutex_lock(&cache_trust_lock);
	return cache_trust_hold();
}

static void cache_trust_lock_drop(int held)
{
	if (held >= 0)
		close(held);
	pthread_mutex_unlock(&cache_trust_lock);
}

/* Whether the records hold path as it is in st: a whole line, at the start or after a newline. */
static bool cache_trust_holds(const char *text, const struct stat *st, const char *path)
{
	char line[PATH_MAX + 128];
	size_t n;
	bool found;

	cache_trust_line(st, path, line, sizeof(line));
	n = strlen(line);
	found = strncmp(text, line, n) == 0;
	for (const char *p = text; !found && (p = strchr(p, '\n')) && p[1]; p++)
		found = strncmp(p + 1, line, n) == 0;
	return found;
}

/* Record st as path's, the lock held. */
static void cache_trust_add(char *text, size_t len, const struct stat *st, const char *path)
{
	char line[PATH_MAX + 128];
	size_t n;

	cache_trust_line(st, path, line, sizeof(line));
	n = strlen(line);
	if (n >= CACHE_TRUST_MAX)
		return;
	len = cache_trust_drop(text, len, path, n);
	memcpy(text + len, line, n);
	syscall(SYS_add_key, "user", CACHE_TRUST_KEY, text, len + n, KEY_SPEC_USER_KEYRING);
}

void cache_trust(int fd, const char *path)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len;
	int held;

	if (!cache_trust_available() || strchr(path, '\n') || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode))
		return;
	held = cache_trust_lock_take();
	text = cache_trust_read(&len);
	if (text)
		cache_trust_add(text, len, &st, path);
	cache_trust_lock_drop(held);
}

int cache_publish(int fd, const char *tmp, const char *path, struct error *err)
{
	bool recorded = cache_trust_available() && !strchr(path, '\n');
	_cleanup_free_ char *text = NULL;
	struct stat there, st;
	size_t len = 0;
	int held = -1, r = 0;

	if (recorded) {
		held = cache_trust_lock_take();
		text = cache_trust_read(&len);
	}
	if (text && stat(path, &there) == 0 && S_ISREG(there.st_mode) &&
	    cache_trust_holds(text, &there, path)) {
		unlink(tmp);	/* another run made it meanwhile: theirs stays */
	} else if (rename(tmp, path) < 0) {
		r = error_set_errno(err, errno, "cannot rename %s to %s", tmp, path);
		unlink(tmp);
	} else if (text && fstat(fd, &st) == 0) {
		cache_trust_add(text, len, &st, path);
	}
	if (recorded)
		cache_trust_lock_drop(held);
	return r;
}

bool cache_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

bool cache_trusted(const char *path)
{
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len;

	if (!cache_trust_available() || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	pthread_mutex_lock(&cache_trust_lock);
	text = cache_trust_read(&len);
	pthread_mutex_unlock(&cache_trust_lock);
	return text && cache_trust_holds(text, &st, path);
}
