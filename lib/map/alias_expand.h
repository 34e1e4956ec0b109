/*
 * alias_expand: virtual_alias_maps expansion as virtual(5) describes it:
 * "user@domain" is looked up, then the "@domain" catch-all; each result is
 * expanded again, an address that maps to itself is kept, and both the
 * depth and the number of results are bounded (a loop is an error, never
 * an endless expansion). Results are deduplicated, keys are lower case.
 */
#ifndef POSTILION_ALIAS_EXPAND_H
#define POSTILION_ALIAS_EXPAND_H

#include <stddef.h>

#include "map/map.h"

#define ALIAS_EXPAND_NONE	0	/* the address has no entry */
#define ALIAS_EXPAND_ERROR	-1	/* a table lookup failed */
#define ALIAS_EXPAND_LIMIT	-2	/* recursion or expansion limit */

struct alias_result {
	char	**addresses;
	size_t	 count;
};

/*
 * alias_expand: the final addresses for address into res (free with
 * alias_result_free). Returns the count (>= 1), or an ALIAS_EXPAND_* code.
 */
int	alias_expand(struct map_list *, const char *address,
	    int recursion_limit, size_t expansion_limit, struct alias_result *);
void	alias_result_free(struct alias_result *);

#endif
