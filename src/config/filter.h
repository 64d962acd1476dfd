/* SPDX-License-Identifier: MIT */
/*
 * filter: --filter REGEX, which targets to run.  Perl-compatible syntax (as
 * vmtest's Rust regex crate: \d, \w, (?i), ...) through PCRE2; this file is
 * the only one that knows PCRE2.
 */
#pragma once

#include "base/error.h"
#include "config/config.h"

/*
 * Keep the targets whose name the pattern matches anywhere (anchor it with
 * ^...$ for a whole-name match), in their order.  A bad pattern is a usage
 * error naming the offset.  Keeping none is not an error here.
 */
int filter_targets(struct config *config, const char *pattern, struct error *err);
