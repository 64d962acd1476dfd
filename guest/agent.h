/* SPDX-License-Identifier: MIT */
/*
 * agent: the QEMU guest agent protocol, served by vmtest's init on the port
 * org.qemu.guest_agent.0, with the commands the host needs: guest-sync,
 * guest-sync-delimited, guest-ping, guest-info, guest-exec,
 * guest-exec-status, guest-shutdown, and vmtest-setup (see guest_proto.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Requests larger than this are refused (input-data is the large one). */
#define AGENT_MAX_REQUEST (64 * 1024 * 1024)

struct agent;

struct agent *agent_new(int fd);

/* Accepts NULL.  The init never ends its agent; the fuzz target does. */
void agent_free(struct agent *agent);

/* Read what the port has and answer every complete request.  Returns false
 * when the host is not connected (the caller should wait before retrying). */
bool agent_handle_input(struct agent *agent);

/* Set once guest-shutdown has been asked for. */
bool agent_shutdown_requested(const struct agent *agent);

/* Exposed for the fuzz target: answer one request held in buf. */
void agent_handle_request(struct agent *agent, const char *buf, size_t len);
