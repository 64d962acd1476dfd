// SPDX-License-Identifier: MIT
#define PCRE2_CODE_UNIT_WIDTH 8
#include "config/filter.h"

#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

static void cleanup_codep(pcre2_code **code)
{
	pcre2_code_free(*code);
}

static void cleanup_match_datap(pcre2_match_data **md)
{
	pcre2_match_data_free(*md);
}

static int filter_compile(const char *pattern, pcre2_code **ret_code, struct error *err)
{
	PCRE2_UCHAR message[256];
	PCRE2_SIZE offset;
	int code;

	*ret_code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
				  &offset, NULL);
	if (*ret_code)
		return 0;
	pcre2_get_error_message(code, message, sizeof(message));
	return error_usage(err, "--filter '%s': %s at offset %zu", pattern, (char *)message,
			   (size_t)offset);
}

int filter_targets(struct config *config, const char *pattern, struct error *err)
{
	__attribute__((cleanup(cleanup_codep))) pcre2_code *code = NULL;
	__attribute__((cleanup(cleanup_match_datap))) pcre2_match_data *md = NULL;
	size_t kept = 0;
	int r;

	r = filter_compile(pattern, &code, err);
	if (r < 0)
		return r;
	md = pcre2_match_data_create_from_pattern(code, NULL);
	if (!md)
		return error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < config->n_targets; i++) {
		struct target *t = &config->targets[i];
		int rc = pcre2_match(code, (PCRE2_SPTR)t->name, strlen(t->name), 0, 0, md, NULL);

		if (rc == PCRE2_ERROR_NOMATCH) {
			config_target_clear(t);
			continue;
		}
		if (rc < 0)
			return error_usage(err, "--filter '%s': matching '%s' failed (PCRE2 error %d)",
					   pattern, t->name, rc);
		config->targets[kept++] = *t;
	}
	config->n_targets = kept;
	return 0;
}
