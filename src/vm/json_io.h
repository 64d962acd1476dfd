/* SPDX-License-Identifier: MIT */
/*
 * json_io: JSON messages over a stream socket, for the QMP and QGA clients,
 * and the one wrapper over jansson (no other file includes <jansson.h>).
 *
 * A peer sends JSON objects back to back, usually one a line.  The reader
 * does not rely on the newlines: a scanner that knows strings and escapes
 * finds where each object ends, and only that span goes to the parser.  A
 * message may not grow beyond the connection's cap, so a hostile peer
 * cannot make us allocate without bound.  Every wait goes through poll()
 * with a deadline (base/clock.h).
 *
 * Values are `struct json_value`, opaque here; json_io_unref() (or
 * `_cleanup_json_`) releases one.  Getters return borrowed pointers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "base/clock.h"
#include "base/error.h"

struct json_value;

struct json_io {
	int fd;			/* owned, O_NONBLOCK and O_CLOEXEC */
	size_t max;		/* the longest message we accept */
	char *buf;
	size_t len;		/* bytes in buf */
	size_t cap;		/* bytes allocated for buf */
	/* Where the scanner stopped inside the message at buf[0]. */
	size_t scan_pos;
	unsigned depth;
	bool in_string;
	bool escape;
	/* Who sends, for messages: "the guest agent", "QEMU"; NULL: "the peer". */
	const char *peer;
};

/*
 * Take over fd (a connected stream socket); messages up to max bytes.  fd
 * is the connection's from then on, and closed if this fails.
 */
int json_io_open_fd(struct json_io *io, int fd, size_t max, struct error *err);

/*
 * Connect to the unix socket at path, retrying while it does not exist yet
 * or nobody listens on it (the peer is still starting) until deadline.
 */
int json_io_connect(struct json_io *io, const char *path, size_t max, int64_t deadline,
		    struct error *err);

/* Close the socket and free the buffer; io may be zeroed or closed already. */
void json_io_close(struct json_io *io);

/* Write all of buf, waiting for room until deadline. */
int json_io_send_bytes(struct json_io *io, const void *buf, size_t n, int64_t deadline,
		       struct error *err);

/* Send msg as one compact line. */
int json_io_send(struct json_io *io, const struct json_value *msg, int64_t deadline,
		 struct error *err);

/*
 * The next JSON object from the peer.  Whitespace and 0xFF bytes (the QGA
 * delimiter) between objects are skipped; anything else there is a
 * protocol error.  -ETIMEDOUT past deadline, -ECONNRESET when the peer
 * closed the connection, -EMSGSIZE for a message longer than the cap.
 */
int json_io_recv(struct json_io *io, int64_t deadline, struct json_value **ret,
		 struct error *err);

/* Discard everything up to and including the next byte equal to delim. */
int json_io_skip_past(struct json_io *io, unsigned char delim, int64_t deadline,
		      struct error *err);

/* Values. */
struct json_value *json_io_ref(struct json_value *v);
struct json_value *json_io_unref(struct json_value *v);
bool json_io_is_object(const struct json_value *v);
bool json_io_utf8_valid(const char *s);

/* The member key of object v; NULL when v is no object or key is absent. */
struct json_value *json_io_get(const struct json_value *v, const char *key);
/* The member as a string; NULL when absent or of another type. */
const char *json_io_get_string(const struct json_value *v, const char *key);
/* The member as an integer; false when absent or of another type. */
/* A whole document from text (a line of JSON, say); NULL when it is not one. */
struct json_value *json_io_parse_text(const char *text, size_t len);
/* A number (integer or real) member. */
bool json_io_get_real(const struct json_value *v, const char *key, double *ret);
/* A string member's length in bytes (it may hold NULs); 0 when not a string. */
size_t json_io_string_len(const struct json_value *v, const char *key);
bool json_io_get_int(const struct json_value *v, const char *key, int64_t *ret);
/* The member as a boolean; def when absent or of another type. */
bool json_io_get_bool(const struct json_value *v, const char *key, bool def);

/* The number of elements of array v (0 when v is no array), and element i. */
size_t json_io_array_len(const struct json_value *v);
struct json_value *json_io_array_get(const struct json_value *v, size_t i);

/* v as compact JSON text, malloc'd, for messages; NULL on failure. */
char *json_io_dump(const struct json_value *v);
/* v indented for people (reports), with a final newline; NULL on failure. */
char *json_io_dump_pretty(const struct json_value *v);

/* Building: NULL/-ENOMEM on failure; -EILSEQ for a string not in UTF-8. */
struct json_value *json_io_new_object(void);
struct json_value *json_io_new_array(void);
int json_io_set(struct json_value *obj, const char *key, struct json_value *steal);
int json_io_set_string(struct json_value *obj, const char *key, const char *s);
int json_io_set_int(struct json_value *obj, const char *key, int64_t n);
int json_io_set_bool(struct json_value *obj, const char *key, bool b);
int json_io_set_real(struct json_value *obj, const char *key, double d);
struct json_value *json_io_new_null(void);
int json_io_append_string(struct json_value *arr, const char *s);
/* A QMP-style command {"execute", "arguments", "id"}; no id when id < 0. */
int json_io_send_command(struct json_io *io, const char *command, const struct json_value *args,
			 int64_t id, int64_t deadline, struct error *err);

/* A QMP-style reply's "return" value, or its "error" as ours (EREMOTEIO). */
int json_io_command_result(const struct json_value *reply, struct json_value **ret_return,
			   struct error *err);

/* Append a value, taking the reference (also on failure, as json_io_set). */
int json_io_append(struct json_value *arr, struct json_value *steal);

static inline void json_io_unrefp(struct json_value **v)
{
	json_io_unref(*v);
}

#define _cleanup_json_ _cleanup_(json_io_unrefp)
