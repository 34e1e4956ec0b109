/*
 * alias_expand: a depth-first walk over alias values. The chain of
 * addresses being expanded is kept, so a cycle is seen at once (and
 * refused), and recursion_limit bounds the depth in any case.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "map/alias_expand.h"

#define ALIAS_ADDRESS_MAX	1024

struct alias_walk {
	struct map_list *maps;
	int	 recursion_limit;
	size_t	 expansion_limit;
	const char *chain[64];
	struct alias_result *res;
};

static int alias_lookup(struct alias_walk *, const char *, struct buf *);
static int alias_add(struct alias_walk *, const char *);
static int alias_walk(struct alias_walk *, const char *, int);
static int alias_target(const char *, const char *, size_t, char *, size_t);

/* user@domain, then @domain; 1 found, 0 not, -1 error. */
static int
alias_lookup(struct alias_walk *w, const char *address, struct buf *value)
{
	const char *at = strrchr(address, '@');
	int rc;

	if ((rc = map_list_lookup(w->maps, address, value)) != 0 || at == NULL)
		return rc;
	return map_list_lookup(w->maps, at, value);
}

static int
alias_add(struct alias_walk *w, const char *address)
{
	struct alias_result *r = w->res;
	size_t i;

	for (i = 0; i < r->count; i++)
		if (strcmp(r->addresses[i], address) == 0)
			return 0;
	if (r->count >= w->expansion_limit)
		return ALIAS_EXPAND_LIMIT;
	r->addresses = xreallocarray(r->addresses, r->count + 1,
	    sizeof(char *));
	r->addresses[r->count++] = xstrdup(address);
	return 0;
}

/*
 * One target from a value, "<a@b>" or "a@b", lower-cased into out; a
 * target "@other" keeps the local part of from ("@domain @other").
 */
static int
alias_target(const char *from, const char *p, size_t n, char *out,
    size_t outlen)
{
	const char *at = strrchr(from, '@');
	size_t o = 0, i;

	if (n >= 2 && p[0] == '<' && p[n - 1] == '>') {
		p++;
		n -= 2;
	}
	if (n == 0)
		return -1;
	if (p[0] == '@' && at != NULL) {
		o = (size_t)(at - from);
		if (o >= outlen)
			return -1;
		memcpy(out, from, o);
	}
	for (i = 0; i < n; i++) {
		if (o + 1 >= outlen || (unsigned char)p[i] < 0x21)
			return -1;
		out[o++] = (char)tolower((unsigned char)p[i]);
	}
	out[o] = '\0';
	return 0;
}

static int
alias_walk(struct alias_walk *w, const char *address, int depth)
{
	char target[ALIAS_ADDRESS_MAX];
	struct buf value;
	const char *p;
	size_t n;
	int i, rc;

	for (i = 0; i < depth; i++)
		if (strcmp(w->chain[i], address) == 0)
			return ALIAS_EXPAND_LIMIT;	/* a loop */
	if (depth >= w->recursion_limit || depth >= 64)
		return ALIAS_EXPAND_LIMIT;
	buf_init(&value);
	if ((rc = alias_lookup(w, address, &value)) != 1) {
		buf_free(&value);
		return rc == 0 ? alias_add(w, address) : ALIAS_EXPAND_ERROR;
	}
	w->chain[depth] = address;
	for (p = value.data, rc = 0; *p != '\0' && rc == 0; p += n) {
		p += strspn(p, ", \t\r\n");
		if ((n = strcspn(p, ", \t\r\n")) == 0)
			break;
		if (alias_target(address, p, n, target, sizeof(target)) == -1)
			continue;
		if (strcmp(target, address) == 0)
			rc = alias_add(w, target);	/* kept as itself */
		else
			rc = alias_walk(w, target, depth + 1);
	}
	buf_free(&value);
	return rc;
}

int
alias_expand(struct map_list *maps, const char *address, int recursion_limit,
    size_t expansion_limit, struct alias_result *res)
{
	struct alias_walk w;
	char key[ALIAS_ADDRESS_MAX];
	struct buf value;
	size_t i;
	int rc;

	memset(res, 0, sizeof(*res));
	if (maps == NULL || map_list_count(maps) == 0)
		return ALIAS_EXPAND_NONE;
	for (i = 0; address[i] != '\0' && i + 1 < sizeof(key); i++)
		key[i] = (char)tolower((unsigned char)address[i]);
	key[i] = '\0';
	memset(&w, 0, sizeof(w));
	w.maps = maps;
	w.recursion_limit = recursion_limit;
	w.expansion_limit = expansion_limit;
	w.res = res;
	buf_init(&value);
	rc = alias_lookup(&w, key, &value);
	buf_free(&value);
	if (rc != 1)
		return rc == 0 ? ALIAS_EXPAND_NONE : ALIAS_EXPAND_ERROR;
	if ((rc = alias_walk(&w, key, 0)) != 0 || res->count == 0) {
		alias_result_free(res);
		return rc != 0 ? rc : ALIAS_EXPAND_LIMIT;
	}
	return (int)res->count;
}

void
alias_result_free(struct alias_result *res)
{
	size_t i;

	for (i = 0; i < res->count; i++)
		free(res->addresses[i]);
	free(res->addresses);
	memset(res, 0, sizeof(*res));
}
