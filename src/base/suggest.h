/* SPDX-License-Identifier: MIT */
/* suggest: "did you mean ...?" for misspelt keys and options. */
#pragma once

#include <stddef.h>

/*
 * The candidate nearest to word (optimal string alignment distance: a
 * transposition counts as one edit), or NULL when none is close enough to be
 * a plausible typo.
 */
const char *suggest_nearest(const char *word, const char *const *candidates, size_t n);

/* Edit distance, exposed for the unit tests. */
size_t suggest_distance(const char *a, const char *b);
