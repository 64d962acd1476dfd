/* SPDX-License-Identifier: MIT */
/*
 * xml_writer: XML for the reports (JUnit), written in pieces to a file or
 * to memory: text and attributes escaped, CDATA sections whose "]]>" is
 * split, and what XML 1.0 forbids dropped (control characters,
 * U+FFFE/FFFF, bytes that are not UTF-8), so any output a guest printed
 * makes a valid document.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A writer of XML character data that may be fed in pieces. */
struct xml_writer {
	int fd;				/* < 0: into mem */
	int error;			/* the first write to fd that failed: its errno */
	char *mem;
	size_t mem_len, mem_cap;
	bool cdata;			/* inside <![CDATA[ ]]>: "]]>" must be split */
	unsigned char carry[4];		/* a UTF-8 sequence cut by the last piece */
	size_t n_carry;
	unsigned brackets;		/* "]" just written, for "]]>" */
	char buf[8192];
	size_t len;
};

/* Bytes as they are (markup). */
void xml_put(struct xml_writer *x, const char *s, size_t n);
void xml_raw(struct xml_writer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Character data: escaped, or inside CDATA as it is. */
void xml_write(struct xml_writer *x, const char *text, size_t len);
/* name="value", escaped. */
void xml_attr(struct xml_writer *x, const char *name, const char *value);
/* A CDATA section of a spool's last max bytes (a read error is the writer's error). */
void xml_cdata_spool(struct xml_writer *x, int fd, size_t max);
/* A CDATA section of text. */
void xml_cdata_text(struct xml_writer *x, const char *text);
/* What is buffered, out. */
void xml_flush(struct xml_writer *x);

/* Text for XML character data, malloc'd (xml_write into memory). */
char *xml_text(const char *s, size_t len, size_t *ret_len);
