/*
 * map_text: the parser of map sources, shared by map_build and texthash:.
 * Lines are "key value" ("key: value" for aliases); # comment lines and
 * blank lines are skipped; a whitespace-led line continues the entry above.
 * Security: sources may be large or hostile; every entry is bounded by
 * MAP_KEY_MAX and MAP_VALUE_MAX and every error names the file and line.
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "map/map_impl.h"

/* A logical line holds a key, a separator and a value; allow some slack. */
#define MAP_LINE_MAX	(MAP_KEY_MAX + MAP_VALUE_MAX + 64)

struct map_parser {
	const char *filename;
	int	 aliases;
	int	 (*fn)(const char *, const char *, void *);
	void	*arg;
	char	*err;
	size_t	 errlen;
	int	 line;		/* first line of the entry being parsed */
};

static int	map_text_is_space(int);
static int	map_text_error(struct map_parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	map_text_split(struct map_parser *, char *, char **, char **);
static int	map_text_emit(struct map_parser *, char *);
static int	map_text_blank(const char *, size_t);

static int
map_text_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int
map_text_error(struct map_parser *p, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	n = (size_t)snprintf(p->err, p->errlen, "%s, line %d: ", p->filename,
	    p->line);
	if (n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* map_text_blank: an empty, all-space or # comment line. */
static int
map_text_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && map_text_is_space((unsigned char)s[i]); i++)
		;
	return i == len || s[i] == '#';
}

/* map_text_split: cut an entry (trimmed at both ends) into key and value. */
static int
map_text_split(struct map_parser *p, char *s, char **key, char **value)
{
	char *k_end, *v;

	if (p->aliases) {
		if ((v = strchr(s, ':')) == NULL)
			return map_text_error(p, "expected format: key: value");
		k_end = v++;
		while (k_end > s && map_text_is_space((unsigned char)k_end[-1]))
			k_end--;
	} else {
		for (k_end = s; *k_end &&
		    !map_text_is_space((unsigned char)*k_end); k_end++)
			;
		v = k_end;
	}
	while (*v && map_text_is_space((unsigned char)*v))
		v++;
	*k_end = '\0';
	if (*s == '\0' || *v == '\0')
		return map_text_error(p, p->aliases ?
		    "expected format: key: value" :
		    "expected format: key whitespace value");
	if (p->aliases && strpbrk(s, " \t\r\f\v") != NULL)
		return map_text_error(p, "expected format: key: value "
		    "(whitespace in key \"%.40s\")", s);
	*key = s;
	*value = v;
	return 0;
}

static int
map_text_emit(struct map_parser *p, char *entry)
{
	char *key = NULL, *value = NULL, *end;
	size_t klen, vlen;
	int rc;

	end = entry + strlen(entry);
	while (end > entry && map_text_is_space((unsigned char)end[-1]))
		*--end = '\0';
	if (map_text_split(p, entry, &key, &value) == -1)
		return -1;
	if ((klen = strlen(key)) > MAP_KEY_MAX)
		return map_text_error(p, "key too long (%zu bytes, limit %d)",
		    klen, MAP_KEY_MAX);
	if ((vlen = strlen(value)) > MAP_VALUE_MAX)
		return map_text_error(p, "value too long (%zu bytes, limit %d)",
		    vlen, MAP_VALUE_MAX);
	map_fold_key(key);
	errno = 0;
	if ((rc = p->fn(key, value, p->arg)) == 1)
		log_warnx("%s, line %d: duplicate entry: \"%s\"", p->filename,
		    p->line, key);
	else if (rc != 0)
		return map_text_error(p, "%s",
		    errno ? strerror(errno) : "cannot store the entry");
	return 0;
}

int
map_text_parse(const char *text, const char *filename, int aliases,
    int (*fn)(const char *key, const char *value, void *arg), void *arg,
    char *err, size_t errlen)
{
	struct map_parser p = { filename, aliases, fn, arg, err, errlen, 0 };
	struct buf entry;
	const char *s, *eol;
	size_t len;
	int lineno = 0, rc = -1;

	buf_init(&entry);
	for (s = text; *s; s = eol ? eol + 1 : s + len) {
		lineno++;
		eol = strchr(s, '\n');
		len = eol ? (size_t)(eol - s) : strlen(s);
		while (len > 0 && map_text_is_space((unsigned char)s[len - 1]))
			len--;
		if (map_text_blank(s, len))
			continue;
		if (map_text_is_space((unsigned char)*s)) {
			if (p.line == 0) {
				p.line = lineno;
				map_text_error(&p, "continuation line "
				    "without an entry above it");
				goto out;
			}
			while (map_text_is_space((unsigned char)*s))
				s++, len--;
			buf_putc(&entry, ' ');
		} else {
			if (p.line && map_text_emit(&p, entry.data) == -1)
				goto out;
			buf_reset(&entry);
			p.line = lineno;
		}
		buf_append(&entry, s, len);
		if (entry.len > MAP_LINE_MAX) {
			map_text_error(&p, "entry too long (over %d bytes)",
			    MAP_LINE_MAX);
			goto out;
		}
	}
	if (p.line && map_text_emit(&p, entry.data) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&entry);
	return rc;
}

char *
map_text_read(int fd, const char *path, struct stat *st, char *err,
    size_t errlen)
{
	char *text;

	if (fstat(fd, st) == -1) {
		snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return NULL;
	}
	if (st->st_size > MAP_SOURCE_MAX) {
		snprintf(err, errlen, "%s: file too large (%lld bytes, "
		    "limit %d)", path, (long long)st->st_size, MAP_SOURCE_MAX);
		return NULL;
	}
	text = xmalloc((size_t)st->st_size + 1);
	if (pread_full(fd, text, (size_t)st->st_size, 0) == -1) {
		snprintf(err, errlen, "read %s: %s", path, strerror(errno));
		free(text);
		return NULL;
	}
	text[st->st_size] = '\0';
	if (strlen(text) != (size_t)st->st_size) {
		snprintf(err, errlen, "%s: file contains a NUL byte", path);
		free(text);
		return NULL;
	}
	return text;
}
