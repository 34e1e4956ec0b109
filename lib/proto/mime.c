/*
 * mime: the MIME tree of a message in memory and the IMAP views of it
 * (ENVELOPE, BODYSTRUCTURE, BODY[section]); interface and line-end rules in
 * mime.h. The parser makes one pass with the open multipart boundaries on
 * a stack bounded by the nesting limit, following Dovecot's message parser
 * (a boundary line only has to begin with --boundary; the line end before
 * it belongs to the boundary). Security: every read is within len; nesting,
 * part count, header bytes and fields are capped; strings are copied.
 */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "proto/mime.h"

#define MIME_DEPTH_HARD_MAX	256	/* recursion bound whatever the config */
#define MIME_PARAMS_MAX		64	/* parameters kept per header */
#define MIME_LANGUAGE_MAX	32	/* Content-Language tags kept */
#define MIME_BOUNDARY_MAX	998	/* longer boundaries are ignored */
#define MIME_PATH_MAX		64	/* numbers in a section path */
#define MIME_WORD_MAX		4096	/* one RFC 2047 encoded word */

struct boundary {
	const char	*s;
	size_t		 len;
};

struct parser {
	const char	*msg;
	size_t		 len;
	struct mime_limits lim;
	unsigned int	 nparts;
	struct boundary	*bnd;
	unsigned int	 nbnd;
	char		*err;
	size_t		 errlen;
};

/*
 * Where a part stopped: at a boundary line (which >= 0) or at the end.
 * end is where every part still open there ends: before the [CR]LF that
 * precedes the boundary line, unless the line starts the content being
 * scanned (then that line end belongs to a header or an earlier boundary).
 */
struct stop {
	int		 which;
	int		 close;		/* --boundary-- */
	size_t		 bline;		/* start of the boundary line */
	size_t		 end;
};

/* A cursor over a header value (RFC 5322 / 2045 lexical rules). */
struct lex {
	const char	*p;
	const char	*end;
	struct buf	*comment;	/* last comment seen, or NULL */
};

struct rawparam {
	char		*key;
	char		*value;
	unsigned int	 idx;
	int		 extended;
};

struct section_spec {
	unsigned int	 path[MIME_PATH_MAX];
	size_t		 npath;
	int		 too_deep;
	int		 kind;
	struct buf	 names;		/* NUL-separated field names */
	size_t		 nnames;
};

enum { SEC_ALL, SEC_HEADER, SEC_FIELDS, SEC_FIELDS_NOT, SEC_TEXT, SEC_MIME };

static int	 ascii_lower(int);
static int	 ascii_upper(int);
static int	 ci_eq(const char *, size_t, const char *);
static int	 is_blank(int);
static int	 is_token(int);
static int	 is_atext(int);
static size_t	 line_next(const char *, size_t, size_t);
static size_t	 nl_before(const char *, size_t);
static int	 line_is_empty(const char *, size_t, size_t);
static char	*unfold_dup(const char *, size_t);
static void	 lex_skip_cfws(struct lex *);
static int	 lex_token(struct lex *, struct buf *);
static int	 lex_quoted(struct lex *, struct buf *);
static void	 params_parse(struct lex *, struct mime_param **, size_t *);
static size_t	 params_collect(struct lex *, struct rawparam *, size_t);
static int	 rawparam_cmp(const void *, const void *);
static void	 params_merge(struct rawparam *, size_t, struct mime_param **,
		    size_t *);
static void	 param_add(struct mime_param **, size_t *, const char *,
		    const char *);
static void	 param_decode(struct mime_param *);
static void	 params_free(struct mime_param *, size_t);
static const char *param_find(const struct mime_param *, size_t,
		    const char *);
static void	 header_content_type(struct mime_part *, const char *, size_t);
static void	 header_language(struct mime_part *, const char *, size_t);
static void	 header_disposition(struct mime_part *, const char *, size_t);
static void	 header_encoding(struct mime_part *, const char *, size_t);
static void	 header_apply(struct parser *, struct mime_part *, int *, int *);
static void	 part_content_clear(struct mime_part *);
static void	 part_classify(struct mime_part *, int, int);
static struct mime_part *part_new(struct parser *, struct mime_part *);
static void	 limit_hit(struct parser *, struct mime_part *, const char *);
static int	 boundary_match(const struct parser *, size_t, int *);
static void	 scan_boundary(const struct parser *, size_t, struct stop *);
static void	 parse_message_empty(struct parser *, struct mime_part *);
static size_t	 parse_header(struct parser *, struct mime_part *, size_t,
		    struct stop *);
static size_t	 parse_entity(struct parser *, struct mime_part *, size_t,
		    struct stop *);
static size_t	 parse_multipart(struct parser *, struct mime_part *,
		    struct stop *);
static size_t	 parse_message(struct parser *, struct mime_part *,
		    struct stop *);
static size_t	 count_lf(const char *, size_t);
static void	 write_for_humans(struct buf *, const char *, size_t);
static void	 write_params(struct buf *, const struct mime_param *, size_t,
		    int);
static void	 write_extension(struct buf *, const struct mime_part *);
static void	 write_part(struct buf *, const char *, const struct mime_part *,
		    int);
static void	 write_multipart(struct buf *, const char *,
		    const struct mime_part *, int);
static void	 write_single(struct buf *, const char *,
		    const struct mime_part *, int);
static void	 write_header_string(struct buf *, const char *, size_t);
static void	 write_addresses(struct buf *, const char *, size_t,
		    const char *, const char *);
static size_t	 address_list(struct buf *, const char *, size_t);
static void	 address_emit(struct buf *, size_t *, const char *,
		    const char *, const char *, const char *);
static void	 address_one(struct buf *, size_t *, struct lex *, int *);
static void	 address_words(struct lex *, struct buf *, struct buf *);
static void	 address_domain(struct lex *, struct buf *);
static int	 section_parse(const char *, size_t, struct section_spec *);
static int	 section_names(const char *, size_t, size_t *,
		    struct section_spec *);
static int	 section_keyword(const char *, size_t, size_t *, const char *);
static const struct mime_part *section_find(const struct mime_part *,
		    const struct section_spec *);
static void	 section_fields(struct buf *, const char *, size_t,
		    const struct section_spec *, int);
static int	 hexval(int);
static void	 utf8_put(struct buf *, uint32_t);
static size_t	 utf8_decode(const unsigned char *, size_t, uint32_t *);
static void	 utf8_valid_append(struct buf *, const char *, size_t);
static int	 charset_is(const char *, const char *const *);
static int	 charset_iconv(struct buf *, const char *, const char *,
		    size_t);
static void	 base64_decode(struct buf *, const char *, size_t);
static void	 qp_decode(struct buf *, const char *, size_t, int);
static int	 encoded_word(const char *, size_t, size_t *, struct buf *,
		    struct buf *);
static uint32_t	 fold_cp(uint32_t);
static void	 fold_append(struct buf *, const char *, size_t);
static void	 fold_ascii_append(struct buf *, const char *, size_t);
static int	 search_header(const char *, const struct mime_part *,
		    const char *, size_t, struct buf *);
static int	 search_part(const char *, const struct mime_part *,
		    const char *, size_t, int, struct buf *);

/*
 * Characters and lines.
 */

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

/* s[0..len) equals the NUL-terminated word, ignoring ASCII case. */
static int
ci_eq(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (word[i] == '\0' || ascii_lower((unsigned char)s[i]) !=
		    ascii_lower((unsigned char)word[i]))
			return 0;
	return word[len] == '\0';
}

static int
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* RFC 2045 token: no CTLs, space or tspecials; 8-bit allowed (Dovecot). */
static int
is_token(int c)
{
	if (c >= 0x80)
		return 1;
	if (c <= ' ' || c == 0x7f)
		return 0;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 5322 atext, 8-bit allowed. */
static int
is_atext(int c)
{
	if (c >= 0x80)
		return 1;
	if (c <= ' ' || c == 0x7f)
		return 0;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

/* The start of the line after the one starting at pos (or len). */
static size_t
line_next(const char *m, size_t len, size_t pos)
{
	const char *nl;

	nl = memchr(m + pos, '\n', len - pos);
	return nl == NULL ? len : (size_t)(nl - m) + 1;
}

/* pos > 0 starts a line: the offset of the [CR]LF ending the line before. */
static size_t
nl_before(const char *m, size_t pos)
{
	pos--;
	if (pos > 0 && m[pos - 1] == '\r')
		pos--;
	return pos;
}

static int
line_is_empty(const char *m, size_t len, size_t pos)
{
	return pos < len && (m[pos] == '\n' ||
	    (m[pos] == '\r' && pos + 1 < len && m[pos + 1] == '\n'));
}

/* A copy of v without CR and LF (RFC 5322 unfolding). */
static char *
unfold_dup(const char *v, size_t len)
{
	char *s = xmalloc(len + 1);
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			s[n++] = v[i];
	s[n] = '\0';
	return s;
}

void
mime_unfold(struct buf *out, const char *v, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (v[i] != '\r' && v[i] != '\n')
			continue;
		buf_append(out, v + start, i - start);
		start = i + 1;
	}
	buf_append(out, v + start, len - start);
}

/*
 * Header values: comments, tokens, quoted strings.
 */

static void
lex_skip_cfws(struct lex *l)
{
	const char *start;
	int level;

	while (l->p < l->end) {
		if (is_blank(*l->p) || *l->p == '\r' || *l->p == '\n') {
			l->p++;
			continue;
		}
		if (*l->p != '(')
			return;
		if (l->comment != NULL)
			buf_reset(l->comment);
		level = 1;
		start = ++l->p;
		for (; l->p < l->end && level > 0; l->p++) {
			if (*l->p == '\\' && l->p + 1 < l->end) {
				if (l->comment != NULL)
					buf_append(l->comment, start,
					    (size_t)(l->p - start));
				start = ++l->p;
			} else if (*l->p == '(')
				level++;
			else if (*l->p == ')' && --level == 0 &&
			    l->comment != NULL)
				buf_append(l->comment, start,
				    (size_t)(l->p - start));
		}
	}
}

/* A MIME token (dots allowed) appended to out; 1 if it was not empty. */
static int
lex_token(struct lex *l, struct buf *out)
{
	const char *start = l->p;

	while (l->p < l->end && (is_token((unsigned char)*l->p) ||
	    *l->p == '.'))
		l->p++;
	buf_append(out, start, (size_t)(l->p - start));
	return l->p > start;
}

/* At '"': the unescaped content appended; -1 if unterminated. */
static int
lex_quoted(struct lex *l, struct buf *out)
{
	l->p++;
	while (l->p < l->end) {
		if (*l->p == '"') {
			l->p++;
			return 0;
		}
		if (*l->p == '\\' && l->p + 1 < l->end)
			l->p++;
		if (*l->p != '\r' && *l->p != '\n')
			buf_putc(out, (unsigned char)*l->p);
		l->p++;
	}
	return -1;
}

/*
 * Parameters (RFC 2045 5.1, RFC 2231), merged the way Dovecot's
 * rfc2231_parse does so that BODYSTRUCTURE shows the same strings.
 */

static size_t
params_collect(struct lex *l, struct rawparam *raw, size_t max)
{
	struct buf key, value;
	size_t n = 0;

	buf_init(&key);
	buf_init(&value);
	for (;;) {
		lex_skip_cfws(l);
		if (l->p >= l->end)
			break;
		if (*l->p != ';') {
			l->p++;		/* broken: resynchronise at ';' */
			continue;
		}
		l->p++;
		lex_skip_cfws(l);
		buf_reset(&key);
		buf_reset(&value);
		if (!lex_token(l, &key))
			continue;
		lex_skip_cfws(l);
		if (l->p >= l->end || *l->p != '=')
			continue;
		l->p++;
		lex_skip_cfws(l);
		if (l->p < l->end && *l->p == '"')
			(void)lex_quoted(l, &value);
		else if (l->p < l->end && *l->p == '=') {
			/* name==?utf-8?b?...?= as broken mailers write it */
			while (l->p < l->end && *l->p != ';' &&
			    !is_blank(*l->p) && *l->p != '\r' && *l->p != '\n')
				buf_putc(&value, (unsigned char)*l->p++);
		} else
			(void)lex_token(l, &value);
		if (n == max)
			continue;
		raw[n].key = xstrndup(key.data, key.len);
		raw[n].value = value.len ? xstrndup(value.data, value.len) :
		    xstrdup("");
		raw[n].idx = 0;
		raw[n].extended = 0;
		n++;
	}
	buf_free(&key);
	buf_free(&value);
	return n;
}

static int
rawparam_cmp(const void *a, const void *b)
{
	const struct rawparam *x = a, *y = b;
	int r = strcasecmp(x->key, y->key);

	if (r != 0)
		return r;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void
param_add(struct mime_param **params, size_t *n, const char *name,
    const char *value)
{
	struct mime_param *p;

	*params = xreallocarray(*params, *n + 1, sizeof(**params));
	p = &(*params)[(*n)++];
	p->name = xstrdup(name);
	p->value = xstrdup(value);
	p->attr = NULL;
	p->text = NULL;
	param_decode(p);
}

/* Split name*N[*] keys off, keep plain ones in order, then join the rest. */
static void
params_merge(struct rawparam *raw, size_t n, struct mime_param **params,
    size_t *nparams)
{
	struct rawparam *cont;
	struct buf value, name;
	size_t i, j, k, ncont = 0, next;
	char *star, *q;
	int ok, have_ext;

	cont = xcalloc(n ? n : 1, sizeof(*cont));
	for (i = 0; i < n; i++) {
		if ((star = strchr(raw[i].key, '*')) == NULL) {
			param_add(params, nparams, raw[i].key, raw[i].value);
			continue;
		}
		/* name* is extended; name*N a continuation; name*N* both */
		q = star;
		cont[ncont].idx = 0;
		if (q[1] != '\0') {
			q++;
			while (*q >= '0' && *q <= '9' &&
			    cont[ncont].idx < 100000)
				cont[ncont].idx = cont[ncont].idx * 10 +
				    (unsigned int)(*q++ - '0');
		}
		cont[ncont].extended = *q == '*';
		if (*q == '*')
			q++;
		if (*q != '\0') {
			param_add(params, nparams, raw[i].key, raw[i].value);
			continue;
		}
		cont[ncont].key = xstrndup(raw[i].key,
		    (size_t)(star - raw[i].key));
		cont[ncont].value = raw[i].value;
		ncont++;
	}
	qsort(cont, ncont, sizeof(*cont), rawparam_cmp);
	buf_init(&value);
	buf_init(&name);
	for (i = 0; i < ncont; i = next) {
		ok = 1;
		have_ext = 0;
		for (j = i; j < ncont && strcasecmp(cont[i].key,
		    cont[j].key) == 0; j++) {
			if (cont[j].idx != j - i)
				ok = 0;
			have_ext |= cont[j].extended;
		}
		next = j;
		if (!ok) {
			/* missing indexes: not RFC 2231 after all */
			for (j = i; j < next; j++) {
				buf_reset(&name);
				buf_printf(&name, "%s*%u%s", cont[j].key,
				    cont[j].idx, cont[j].extended ? "*" : "");
				param_add(params, nparams, name.data,
				    cont[j].value);
			}
			continue;
		}
		buf_reset(&value);
		buf_puts(&value, "");
		if (!cont[i].extended && have_ext)
			buf_puts(&value, "''");
		for (j = i; j < next; j++) {
			if (cont[j].extended || !have_ext) {
				buf_puts(&value, cont[j].value);
				continue;
			}
			for (k = 0; cont[j].value[k] != '\0'; k++) {
				if (cont[j].value[k] == '%')
					buf_puts(&value, "%25");
				else
					buf_putc(&value, cont[j].value[k]);
			}
		}
		buf_reset(&name);
		buf_printf(&name, "%s%s", cont[i].key, have_ext ? "*" : "");
		param_add(params, nparams, name.data, value.data);
	}
	for (i = 0; i < ncont; i++)
		free(cont[i].key);
	free(cont);
	buf_free(&value);
	buf_free(&name);
}

/* attr/text: the name for programs and the value decoded to UTF-8. */
static void
param_decode(struct mime_param *p)
{
	struct buf b, raw;
	size_t n = strlen(p->name), i;
	char *q1, *q2, *charset;
	int hi, lo;

	if (n > 0 && p->name[n - 1] == '*')
		n--;
	p->attr = xstrndup(p->name, n);
	for (i = 0; p->attr[i] != '\0'; i++)
		p->attr[i] = (char)ascii_lower((unsigned char)p->attr[i]);
	buf_init(&b);
	buf_puts(&b, "");
	if (n == strlen(p->name) || (q1 = strchr(p->value, '\'')) == NULL ||
	    (q2 = strchr(q1 + 1, '\'')) == NULL) {
		mime_header_decode(&b, p->value, strlen(p->value));
		p->text = xstrndup(b.data, b.len);
		buf_free(&b);
		return;
	}
	buf_init(&raw);
	for (i = (size_t)(q2 + 1 - p->value); p->value[i] != '\0'; i++) {
		if (p->value[i] == '%' &&
		    (hi = hexval((unsigned char)p->value[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)p->value[i + 2])) >= 0) {
			buf_putc(&raw, hi << 4 | lo);
			i += 2;
		} else
			buf_putc(&raw, (unsigned char)p->value[i]);
	}
	charset = xstrndup(p->value, (size_t)(q1 - p->value));
	(void)mime_charset_to_utf8(&b, charset[0] ? charset : "us-ascii",
	    raw.data ? raw.data : "", raw.len);
	p->text = xstrndup(b.data, b.len);
	free(charset);
	buf_free(&raw);
	buf_free(&b);
}

static void
params_parse(struct lex *l, struct mime_param **params, size_t *nparams)
{
	struct rawparam raw[MIME_PARAMS_MAX];
	size_t n, i;

	n = params_collect(l, raw, MIME_PARAMS_MAX);
	params_merge(raw, n, params, nparams);
	for (i = 0; i < n; i++) {
		free(raw[i].key);
		free(raw[i].value);
	}
}

static void
params_free(struct mime_param *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
		free(p[i].attr);
		free(p[i].text);
	}
	free(p);
}

static const char *
param_find(const struct mime_param *p, size_t n, const char *attr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(p[i].attr, attr) == 0)
			return p[i].text;
	return NULL;
}

/*
 * A part's Content-* header fields.
 */

static void
header_content_type(struct mime_part *part, const char *v, size_t len)
{
	struct lex l = { v, v + len, NULL };
	struct buf type, subtype;

	buf_init(&type);
	buf_init(&subtype);
	lex_skip_cfws(&l);
	if (!lex_token(&l, &type))
		goto broken;
	lex_skip_cfws(&l);
	if (l.p >= l.end || *l.p != '/')
		goto broken;
	l.p++;
	lex_skip_cfws(&l);
	if (!lex_token(&l, &subtype))
		goto broken;
	lex_skip_cfws(&l);
	if (l.p < l.end && *l.p != ';')
		goto broken;
	part->type = xstrndup(type.data, type.len);
	part->subtype = xstrndup(subtype.data, subtype.len);
	params_parse(&l, &part->params, &part->nparams);
broken:
	buf_free(&type);
	buf_free(&subtype);
}

static void
header_encoding(struct mime_part *part, const char *v, size_t len)
{
	struct lex l = { v, v + len, NULL };
	struct buf tok;

	buf_init(&tok);
	lex_skip_cfws(&l);
	if (lex_token(&l, &tok)) {
		lex_skip_cfws(&l);
		if (l.p == l.end)
			part->encoding = xstrndup(tok.data, tok.len);
	}
	buf_free(&tok);
}

static void
header_disposition(struct mime_part *part, const char *v, size_t len)
{
	struct lex l = { v, v + len, NULL };
	struct buf tok;

	buf_init(&tok);
	lex_skip_cfws(&l);
	if (lex_token(&l, &tok)) {
		part->disposition = xstrndup(tok.data, tok.len);
		params_parse(&l, &part->disposition_params,
		    &part->ndisposition_params);
	}
	buf_free(&tok);
}

/* Language-Header = "Content-Language" ":" 1#Language-tag */
static void
header_language(struct mime_part *part, const char *v, size_t len)
{
	struct lex l = { v, v + len, NULL };
	const char *start;

	lex_skip_cfws(&l);
	while (l.p < l.end && part->nlanguage < MIME_LANGUAGE_MAX) {
		start = l.p;
		while (l.p < l.end && (is_atext((unsigned char)*l.p)))
			l.p++;
		if (l.p == start)
			break;
		part->language = xreallocarray(part->language,
		    part->nlanguage + 1, sizeof(char *));
		part->language[part->nlanguage++] = xstrndup(start,
		    (size_t)(l.p - start));
		lex_skip_cfws(&l);
		if (l.p >= l.end || *l.p != ',')
			break;
		l.p++;
		lex_skip_cfws(&l);
	}
}

/* Read the header fields that matter, the first of each name. */
static void
header_apply(struct parser *p, struct mime_part *part, int *seen_ct,
    int *mime_version)
{
	struct mime_field f;
	size_t pos = 0, hlen = part->header_len;
	unsigned int nfields = 0;
	const char *n, *hdr = p->msg + part->header_offset;
	char **strp;

	if (hlen > p->lim.header_max) {
		hlen = p->lim.header_max;
		limit_hit(p, NULL, "header size limit");
	}
	while (mime_header_next(hdr, hlen, &pos, &f)) {
		if (++nfields > p->lim.fields_max) {
			limit_hit(p, NULL, "header field limit");
			break;
		}
		if (ci_eq(f.name, f.name_len, "MIME-Version")) {
			*mime_version = 1;
			continue;
		}
		if (f.name_len < 8 || !ci_eq(f.name, 8, "Content-"))
			continue;
		n = f.name + 8;
		strp = NULL;
		if (ci_eq(n, f.name_len - 8, "Type")) {
			if (!*seen_ct)
				header_content_type(part, f.value,
				    f.value_len);
			*seen_ct = 1;
		} else if (ci_eq(n, f.name_len - 8, "Transfer-Encoding")) {
			if (part->encoding == NULL)
				header_encoding(part, f.value, f.value_len);
		} else if (ci_eq(n, f.name_len - 8, "Disposition")) {
			if (part->disposition == NULL)
				header_disposition(part, f.value,
				    f.value_len);
		} else if (ci_eq(n, f.name_len - 8, "Language")) {
			if (part->nlanguage == 0)
				header_language(part, f.value, f.value_len);
		} else if (ci_eq(n, f.name_len - 8, "ID"))
			strp = &part->id;
		else if (ci_eq(n, f.name_len - 8, "Description"))
			strp = &part->description;
		else if (ci_eq(n, f.name_len - 8, "MD5"))
			strp = &part->md5;
		else if (ci_eq(n, f.name_len - 8, "Location"))
			strp = &part->location;
		if (strp != NULL && *strp == NULL)
			*strp = unfold_dup(f.value, f.value_len);
	}
}

static void
part_content_clear(struct mime_part *part)
{
	size_t i;

	free(part->type);
	free(part->subtype);
	params_free(part->params, part->nparams);
	free(part->id);
	free(part->description);
	free(part->encoding);
	free(part->md5);
	free(part->location);
	for (i = 0; i < part->nlanguage; i++)
		free(part->language[i]);
	free(part->language);
	free(part->disposition);
	params_free(part->disposition_params, part->ndisposition_params);
	part->type = part->subtype = NULL;
	part->params = NULL;
	part->nparams = 0;
	part->id = part->description = part->encoding = NULL;
	part->md5 = part->location = part->disposition = NULL;
	part->language = NULL;
	part->nlanguage = 0;
	part->disposition_params = NULL;
	part->ndisposition_params = 0;
}

/* Flags and defaults once the header is read (Dovecot's rules). */
static void
part_classify(struct mime_part *part, int seen_ct, int mime_version)
{
	const struct mime_part *parent = part->parent;
	const char *b;

	if (seen_ct || mime_version || (parent != NULL &&
	    (parent->flags & MIME_PART_MULTIPART)))
		part->flags |= MIME_PART_IS_MIME;
	else
		part_content_clear(part);
	if (part->type == NULL) {
		free(part->subtype);
		params_free(part->params, part->nparams);
		part->params = NULL;
		part->nparams = 0;
		part->flags |= MIME_PART_DEFAULT_TYPE;
		if (parent != NULL && (parent->flags & MIME_PART_MULTIPART) &&
		    strcasecmp(parent->subtype, "digest") == 0) {
			part->type = xstrdup("message");
			part->subtype = xstrdup("rfc822");
		} else {
			part->type = xstrdup("text");
			part->subtype = xstrdup("plain");
		}
	}
	if (strcasecmp(part->type, "text") == 0)
		part->flags |= MIME_PART_TEXT;
	else if (strcasecmp(part->type, "message") == 0 &&
	    strcasecmp(part->subtype, "rfc822") == 0)
		part->flags |= MIME_PART_MESSAGE;
	else if (strcasecmp(part->type, "multipart") == 0) {
		part->flags |= MIME_PART_MULTIPART;
		b = param_find(part->params, part->nparams, "boundary");
		if (b != NULL && b[0] != '\0' && strlen(b) <= MIME_BOUNDARY_MAX)
			part->boundary = xstrdup(b);
	}
}

/*
 * The parser proper.
 */

static void
limit_hit(struct parser *p, struct mime_part *part, const char *what)
{
	if (part != NULL)
		part->flags |= MIME_PART_LIMITED;
	if (p->err != NULL && p->errlen > 0 && p->err[0] == '\0')
		snprintf(p->err, p->errlen, "%s crossed", what);
}

static struct mime_part *
part_new(struct parser *p, struct mime_part *parent)
{
	struct mime_part *part, **tail;

	part = xcalloc(1, sizeof(*part));
	p->nparts++;
	part->parent = parent;
	if (parent == NULL)
		return part;
	part->depth = parent->depth + 1;
	if (parent->flags & MIME_PART_MULTIPART) {
		for (tail = &parent->children; *tail != NULL;
		    tail = &(*tail)->next)
			;
		*tail = part;
		parent->nchildren++;
	}
	return part;
}

/* Whether the line at pos is --boundary of an open multipart (longest). */
static int
boundary_match(const struct parser *p, size_t pos, int *close)
{
	size_t rest = p->len - pos;
	const char *s = p->msg + pos + 2;
	int i, best = -1;

	if (rest < 2 || s[-2] != '-' || s[-1] != '-')
		return -1;
	rest -= 2;
	for (i = (int)p->nbnd - 1; i >= 0; i--) {
		if (p->bnd[i].len <= rest &&
		    memcmp(p->bnd[i].s, s, p->bnd[i].len) == 0 &&
		    (best < 0 || p->bnd[best].len < p->bnd[i].len))
			best = i;
	}
	if (best >= 0)
		*close = rest >= p->bnd[best].len + 2 &&
		    memcmp(s + p->bnd[best].len, "--", 2) == 0;
	return best;
}

/* The first boundary line at or after the line start pos. */
static void
scan_boundary(const struct parser *p, size_t pos, struct stop *st)
{
	size_t start = pos;

	st->which = -1;
	st->close = 0;
	st->bline = st->end = p->len;
	if (p->nbnd == 0)
		return;
	while (pos < p->len) {
		if ((st->which = boundary_match(p, pos, &st->close)) >= 0) {
			st->bline = pos;
			st->end = pos == start ? pos : nl_before(p->msg, pos);
			return;
		}
		pos = line_next(p->msg, p->len, pos);
	}
	st->which = -1;
}

/*
 * The header from pos: up to and including the blank line, or cut before a
 * boundary line (the line end before it then belongs to the boundary).
 * Returns the body offset; st->which >= 0 when a boundary cut the header.
 */
static size_t
parse_header(struct parser *p, struct mime_part *part, size_t pos,
    struct stop *st)
{
	size_t at = pos;
	int close;

	st->which = -1;
	st->close = 0;
	part->header_offset = pos;
	while (at < p->len) {
		if (line_is_empty(p->msg, p->len, at)) {
			at = line_next(p->msg, p->len, at);
			part->header_len = at - pos;
			return at;
		}
		if (p->nbnd > 0 &&
		    (st->which = boundary_match(p, at, &close)) >= 0) {
			st->close = close;
			st->bline = at;
			st->end = at == pos ? pos : nl_before(p->msg, at);
			part->header_len = st->end - pos;
			return st->end;
		}
		at = line_next(p->msg, p->len, at);
	}
	part->header_len = p->len - pos;
	return p->len;
}

static size_t
count_lf(const char *s, size_t len)
{
	const char *end = s + len, *nl;
	size_t n = 0;

	while (s < end && (nl = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		n++;
		s = nl + 1;
	}
	return n;
}

/* An empty message inside a message/rfc822 part whose header was cut. */
static void
parse_message_empty(struct parser *p, struct mime_part *part)
{
	struct mime_part *child;

	if (p->nparts >= p->lim.parts_max) {
		limit_hit(p, part, "MIME part count limit");
		part->flags &= ~MIME_PART_MESSAGE;
		return;
	}
	child = part_new(p, part);
	part->message = child;
	child->header_offset = child->body_offset = part->body_offset;
	part_classify(child, 0, 0);
}

/* A part from its header on; returns the offset where it ends. */
static size_t
parse_entity(struct parser *p, struct mime_part *part, size_t pos,
    struct stop *st)
{
	size_t body, end;
	int seen_ct = 0, mime_version = 0, cut;

	body = parse_header(p, part, pos, st);
	cut = st->which >= 0;
	header_apply(p, part, &seen_ct, &mime_version);
	part_classify(part, seen_ct, mime_version);
	part->body_offset = body;
	if (part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE) &&
	    part->depth >= p->lim.depth_max) {
		limit_hit(p, part, "MIME nesting limit");
		part->flags &= ~(MIME_PART_MULTIPART | MIME_PART_MESSAGE);
	}
	if (cut) {
		/* a boundary line cut the header: no body */
		if (part->flags & MIME_PART_MESSAGE)
			parse_message_empty(p, part);
		return body;
	}
	if ((part->flags & MIME_PART_MULTIPART) && part->boundary != NULL)
		end = parse_multipart(p, part, st);
	else if (part->flags & MIME_PART_MESSAGE)
		end = parse_message(p, part, st);
	else {
		scan_boundary(p, body, st);
		end = st->end;
	}
	part->body_len = end - body;
	if (part->flags & (MIME_PART_TEXT | MIME_PART_MESSAGE))
		part->body_lines = count_lf(p->msg + body, part->body_len);
	return end;
}

/* message/rfc822: the body is a message of its own. */
static size_t
parse_message(struct parser *p, struct mime_part *part, struct stop *st)
{
	struct mime_part *child;

	if (p->nparts >= p->lim.parts_max) {
		limit_hit(p, part, "MIME part count limit");
		part->flags &= ~MIME_PART_MESSAGE;
		scan_boundary(p, part->body_offset, st);
		return st->end;
	}
	child = part_new(p, part);
	part->message = child;
	return parse_entity(p, child, part->body_offset, st);
}

/* multipart/: preamble, parts between boundary lines, epilogue. */
static size_t
parse_multipart(struct parser *p, struct mime_part *part, struct stop *st)
{
	struct mime_part *child;
	size_t next, body = part->body_offset;
	int own = (int)p->nbnd;

	p->bnd[p->nbnd].s = part->boundary;
	p->bnd[p->nbnd].len = strlen(part->boundary);
	p->nbnd++;
	scan_boundary(p, body, st);
	for (;;) {
		if (st->which < own)
			break;		/* the end, or an outer boundary */
		next = line_next(p->msg, p->len, st->bline);
		if (st->close) {
			p->nbnd = (unsigned int)own;	/* epilogue */
			scan_boundary(p, next, st);
			break;
		}
		if (next == p->len && p->msg[p->len - 1] != '\n') {
			st->which = -1;		/* "--b" at the very end */
			st->bline = st->end = p->len;
			break;
		}
		if (p->nparts >= p->lim.parts_max) {
			limit_hit(p, part, "MIME part count limit");
			st->which = -1;		/* the rest is body */
			st->bline = st->end = p->len;
			break;
		}
		child = part_new(p, part);
		(void)parse_entity(p, child, next, st);
	}
	p->nbnd = (unsigned int)own;
	return st->end;
}

void
mime_limits_default(struct mime_limits *lim)
{
	lim->depth_max = MIME_DEPTH_MAX_DEFAULT;
	lim->parts_max = MIME_PARTS_MAX_DEFAULT;
	lim->header_max = MIME_HEADER_MAX_DEFAULT;
	lim->fields_max = MIME_FIELDS_MAX_DEFAULT;
}

struct mime_part *
mime_parse(const char *msg, size_t len, const struct mime_limits *lim,
    char *err, size_t errlen)
{
	struct parser p;
	struct mime_part *root;
	struct stop st;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (len >= SIZE_MAX / 2)
		return NULL;
	memset(&p, 0, sizeof(p));
	p.msg = msg;
	p.len = len;
	if (lim != NULL)
		p.lim = *lim;
	else
		mime_limits_default(&p.lim);
	if (p.lim.depth_max > MIME_DEPTH_HARD_MAX)
		p.lim.depth_max = MIME_DEPTH_HARD_MAX;
	if (p.lim.parts_max < 1)
		p.lim.parts_max = 1;
	p.err = err;
	p.errlen = errlen;
	p.bnd = xcalloc(p.lim.depth_max + 2, sizeof(*p.bnd));
	root = part_new(&p, NULL);
	(void)parse_entity(&p, root, 0, &st);
	free(p.bnd);
	return root;
}

void
mime_free(struct mime_part *part)
{
	struct mime_part *next;

	while (part != NULL) {
		next = part->next;
		mime_free(part->children);
		mime_free(part->message);
		part_content_clear(part);
		free(part->boundary);
		free(part);
		part = next;
	}
}

/*
 * Header fields.
 */

int
mime_header_next(const char *hdr, size_t hdrlen, size_t *pos,
    struct mime_field *f)
{
	size_t start = *pos, first_end, end, le, v;
	const char *colon;

	if (start >= hdrlen || line_is_empty(hdr, hdrlen, start))
		return 0;
	first_end = line_next(hdr, hdrlen, start);
	end = first_end;
	while (end < hdrlen && is_blank(hdr[end]))
		end = line_next(hdr, hdrlen, end);
	f->raw = hdr + start;
	f->raw_len = end - start;
	le = first_end;
	if (le > start && hdr[le - 1] == '\n')
		le--;
	if (le > start && hdr[le - 1] == '\r')
		le--;
	f->name = hdr + start;
	colon = memchr(hdr + start, ':', le - start);
	if (colon == NULL) {
		f->name_len = le - start;
		f->value = hdr + le;
		f->value_len = 0;
		*pos = end;
		return 1;
	}
	f->name_len = (size_t)(colon - f->name);
	while (f->name_len > 0 && is_blank(f->name[f->name_len - 1]))
		f->name_len--;
	v = (size_t)(colon - hdr) + 1;
	while (v < end && is_blank(hdr[v]))
		v++;
	le = end;
	if (le > v && hdr[le - 1] == '\n')
		le--;
	if (le > v && hdr[le - 1] == '\r')
		le--;
	f->value = hdr + v;
	f->value_len = le > v ? le - v : 0;
	*pos = end;
	return 1;
}

int
mime_header_get(const char *hdr, size_t hdrlen, const char *name,
    struct buf *out)
{
	struct mime_field f;
	size_t pos = 0, skip = 0;

	while (mime_header_next(hdr, hdrlen, &pos, &f)) {
		if (!ci_eq(f.name, f.name_len, name))
			continue;
		while (skip < f.value_len && (is_blank(f.value[skip]) ||
		    f.value[skip] == '\r' || f.value[skip] == '\n'))
			skip++;
		buf_reset(out);
		buf_puts(out, "");
		mime_unfold(out, f.value + skip, f.value_len - skip);
		return 1;
	}
	return 0;
}

int
mime_header_search(const char *hdr, size_t hdrlen, const char *name,
    const char *key, size_t keylen)
{
	struct mime_field f;
	struct buf dec;
	size_t pos = 0;
	int found = 0;

	buf_init(&dec);
	while (!found && mime_header_next(hdr, hdrlen, &pos, &f)) {
		if (!ci_eq(f.name, f.name_len, name))
			continue;
		if (keylen == 0)
			found = 1;
		else {
			buf_reset(&dec);
			mime_header_decode(&dec, f.value, f.value_len);
			found = mime_contains(dec.data, dec.len, key, keylen);
		}
	}
	buf_free(&dec);
	return found;
}

/*
 * IMAP strings and BODYSTRUCTURE.
 */

void
mime_write_string(struct buf *out, const char *s, size_t len)
{
	size_t i;
	int literal = 0, escapes = 0;

	/* Dovecot's rule: past 4 quoted-specials a literal is shorter */
	for (i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c == '"' || c == '\\') && ++escapes > 4)
			literal = 1;
		literal |= c == '\r' || c == '\n' || c == '\0' || c >= 0x80;
	}
	if (literal) {
		/* RFC 3501 CHAR8 excludes NUL: Dovecot shows it as 0x80 */
		buf_printf(out, "{%zu}\r\n", len);
		for (i = 0; i < len; i++)
			buf_putc(out, s[i] == '\0' ? 0x80 :
			    (unsigned char)s[i]);
		return;
	}
	buf_putc(out, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, (unsigned char)s[i]);
	}
	buf_putc(out, '"');
}

/*
 * A string for people (ENVELOPE subject and names), as Dovecot writes it:
 * blanks and line ends collapse to one space, none at either end, NUL is
 * 0x80; anything changed, quoted-special or 8-bit makes it a literal.
 */
static void
write_for_humans(struct buf *out, const char *s, size_t len)
{
	size_t i, remove = 0;
	int lwsp = 1, prefix = 1, modify = 0;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (c != ' ' || lwsp)
				modify = 1;
			if (lwsp)
				remove++;
			lwsp = 1;
		} else {
			if (c == '\0' || c == '"' || c == '\\' || c >= 0x80)
				modify = 1;
			lwsp = 0;
			prefix = 0;
		}
	}
	if (lwsp && len > 0 && !prefix) {
		modify = 1;
		remove++;
	}
	if (!modify) {
		buf_putc(out, '"');
		buf_append(out, s, len);
		buf_putc(out, '"');
		return;
	}
	if (remove >= len) {
		buf_puts(out, "\"\"");
		return;
	}
	buf_printf(out, "{%zu}\r\n", len - remove);
	lwsp = 1;
	prefix = 1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (!lwsp)
				buf_putc(out, ' ');
			lwsp = 1;
			continue;
		}
		buf_putc(out, c == '\0' ? 0x80 : c);
		lwsp = 0;
		prefix = 0;
	}
	if (lwsp && !prefix)
		out->data[--out->len] = '\0';	/* the trailing space */
}

void
mime_write_nstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_puts(out, "NIL");
	else
		mime_write_string(out, s, strlen(s));
}

/* body-fld-param; text parts always show a charset (Dovecot). */
static void
write_params(struct buf *out, const struct mime_param *p, size_t n,
    int default_charset)
{
	size_t i;
	int seen = 0;

	if (n == 0 && !default_charset) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		if (strcasecmp(p[i].name, "charset") == 0)
			seen = 1;
		mime_write_nstring(out, p[i].name);
		buf_putc(out, ' ');
		mime_write_nstring(out, p[i].value);
	}
	if (default_charset && !seen)
		buf_puts(out, n > 0 ? " \"charset\" \"us-ascii\"" :
		    "\"charset\" \"us-ascii\"");
	buf_putc(out, ')');
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void
write_extension(struct buf *out, const struct mime_part *part)
{
	size_t i;

	buf_putc(out, ' ');
	if (part->disposition == NULL)
		buf_puts(out, "NIL");
	else {
		buf_putc(out, '(');
		mime_write_nstring(out, part->disposition);
		buf_putc(out, ' ');
		write_params(out, part->disposition_params,
		    part->ndisposition_params, 0);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	if (part->nlanguage == 0)
		buf_puts(out, "NIL");
	else {
		buf_putc(out, '(');
		for (i = 0; i < part->nlanguage; i++) {
			if (i > 0)
				buf_putc(out, ' ');
			mime_write_nstring(out, part->language[i]);
		}
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	mime_write_nstring(out, part->location);
}

static void
write_single(struct buf *out, const char *msg, const struct mime_part *part,
    int extended)
{
	int text = 0;

	buf_putc(out, '(');
	if (part->flags & MIME_PART_MESSAGE) {
		buf_puts(out, "\"message\" \"rfc822\" ");
		write_params(out, part->params, part->nparams, 0);
	} else if (part->flags & MIME_PART_LIMITED) {
		/* a multipart or message a limit kept closed: a blob */
		buf_puts(out, "\"application\" \"octet-stream\" NIL");
	} else {
		text = (part->flags & MIME_PART_TEXT) != 0;
		mime_write_nstring(out, part->type);
		buf_putc(out, ' ');
		mime_write_nstring(out, part->subtype);
		buf_putc(out, ' ');
		write_params(out, part->params, part->nparams, text);
	}
	buf_putc(out, ' ');
	mime_write_nstring(out, part->id);
	buf_putc(out, ' ');
	mime_write_nstring(out, part->description);
	buf_putc(out, ' ');
	mime_write_nstring(out, part->encoding ? part->encoding : "7bit");
	buf_printf(out, " %zu", part->body_len);
	if (text)
		buf_printf(out, " %zu", part->body_lines);
	else if (part->flags & MIME_PART_MESSAGE) {
		buf_putc(out, ' ');
		mime_envelope(out, msg, part->message);
		buf_putc(out, ' ');
		write_part(out, msg, part->message, extended);
		buf_printf(out, " %zu", part->body_lines);
	}
	if (extended) {
		buf_putc(out, ' ');
		mime_write_nstring(out, part->md5);
		write_extension(out, part);
	}
	buf_putc(out, ')');
}

static void
write_multipart(struct buf *out, const char *msg,
    const struct mime_part *part, int extended)
{
	const struct mime_part *c;

	buf_putc(out, '(');
	for (c = part->children; c != NULL; c = c->next)
		write_part(out, msg, c, extended);
	if (part->children == NULL) {
		/* no parts: not allowed, so one empty text/plain (Dovecot) */
		buf_puts(out, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
		    "NIL NIL \"7bit\" 0 0");
		buf_puts(out, extended ? " NIL NIL NIL NIL)" : ")");
	}
	buf_putc(out, ' ');
	mime_write_nstring(out, part->subtype);
	if (extended) {
		buf_putc(out, ' ');
		write_params(out, part->params, part->nparams, 0);
		write_extension(out, part);
	}
	buf_putc(out, ')');
}

static void
write_part(struct buf *out, const char *msg, const struct mime_part *part,
    int extended)
{
	if (part->flags & MIME_PART_MULTIPART)
		write_multipart(out, msg, part, extended);
	else
		write_single(out, msg, part, extended);
}

void
mime_bodystructure(struct buf *out, const char *msg,
    const struct mime_part *part, int extended)
{
	write_part(out, msg, part, extended);
}

/*
 * ENVELOPE (RFC 3501 7.4.2).
 */

enum { ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO,
	ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_N };

static const char *const envelope_names[ENV_N] = { "Date", "Subject",
	"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To",
	"Message-ID" };

void
mime_envelope(struct buf *out, const char *msg, const struct mime_part *part)
{
	struct mime_field f, found[ENV_N];
	const char *hdr = msg + part->header_offset;
	size_t pos = 0, i;
	int have[ENV_N] = { 0 };

	/* the last field of a name counts, as in Dovecot */
	while (mime_header_next(hdr, part->header_len, &pos, &f))
		for (i = 0; i < ENV_N; i++)
			if (ci_eq(f.name, f.name_len, envelope_names[i])) {
				found[i] = f;
				have[i] = 1;
			}
	buf_putc(out, '(');
	for (i = 0; i < ENV_N; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		switch (i) {
		case ENV_FROM: case ENV_TO: case ENV_CC: case ENV_BCC:
			write_addresses(out, have[i] ? found[i].value : NULL,
			    have[i] ? found[i].value_len : 0, NULL, NULL);
			break;
		case ENV_SENDER: case ENV_REPLY_TO:
			write_addresses(out, have[i] ? found[i].value : NULL,
			    have[i] ? found[i].value_len : 0,
			    have[ENV_FROM] ? found[ENV_FROM].value : NULL,
			    have[ENV_FROM] ? found[ENV_FROM].value +
			    found[ENV_FROM].value_len : NULL);
			break;
		case ENV_SUBJECT:
			if (have[i])
				write_for_humans(out, found[i].value,
				    found[i].value_len);
			else
				buf_puts(out, "NIL");
			break;
		default:
			write_header_string(out, have[i] ? found[i].value :
			    NULL, have[i] ? found[i].value_len : 0);
		}
	}
	buf_putc(out, ')');
}

/* An unstructured field as an nstring, unfolded (NIL when v is NULL). */
static void
write_header_string(struct buf *out, const char *v, size_t len)
{
	struct buf tmp;

	if (v == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_init(&tmp);
	buf_puts(&tmp, "");
	mime_unfold(&tmp, v, len);
	mime_write_string(out, tmp.data, tmp.len);
	buf_free(&tmp);
}

/* An address list, or the fallback list (fb..fbend) when it is empty. */
static void
write_addresses(struct buf *out, const char *v, size_t len, const char *fb,
    const char *fbend)
{
	struct buf tmp;
	size_t n = 0;

	buf_init(&tmp);
	if (v != NULL)
		n = address_list(&tmp, v, len);
	if (n == 0 && fb != NULL) {
		buf_reset(&tmp);
		n = address_list(&tmp, fb, (size_t)(fbend - fb));
	}
	if (n == 0)
		buf_puts(out, "NIL");
	else {
		buf_putc(out, '(');
		buf_append(out, tmp.data, tmp.len);
		buf_putc(out, ')');
	}
	buf_free(&tmp);
}

#define ADDRESSES_MAX	10000	/* addresses shown per field */

static void
address_emit(struct buf *out, size_t *n, const char *name, const char *route,
    const char *mailbox, const char *host)
{
	if (*n >= ADDRESSES_MAX)
		return;
	(*n)++;
	buf_putc(out, '(');
	if (name == NULL)
		buf_puts(out, "NIL");
	else
		write_for_humans(out, name, strlen(name));
	buf_putc(out, ' ');
	mime_write_nstring(out, route);
	buf_putc(out, ' ');
	mime_write_nstring(out, mailbox);
	buf_putc(out, ' ');
	mime_write_nstring(out, host);
	buf_putc(out, ')');
}

/* Words of a phrase (joined by spaces) and of a local part (joined). */
static void
address_words(struct lex *l, struct buf *phrase, struct buf *local)
{
	struct buf word;
	const char *start;

	buf_init(&word);
	for (;;) {
		lex_skip_cfws(l);
		if (l->p >= l->end)
			break;
		buf_reset(&word);
		if (*l->p == '"')
			(void)lex_quoted(l, &word);
		else if (is_atext((unsigned char)*l->p) || *l->p == '.') {
			start = l->p;
			while (l->p < l->end &&
			    (is_atext((unsigned char)*l->p) || *l->p == '.'))
				l->p++;
			buf_append(&word, start, (size_t)(l->p - start));
		} else
			break;
		if (phrase->len > 0)
			buf_putc(phrase, ' ');
		buf_append(phrase, word.data, word.len);
		buf_append(local, word.data, word.len);
	}
	buf_free(&word);
}

static void
address_domain(struct lex *l, struct buf *domain)
{
	const char *start;

	lex_skip_cfws(l);
	if (l->p < l->end && *l->p == '[') {
		start = l->p;
		while (l->p < l->end && *l->p != ']')
			l->p++;
		if (l->p < l->end)
			l->p++;
		buf_append(domain, start, (size_t)(l->p - start));
		lex_skip_cfws(l);
		return;
	}
	for (;;) {
		start = l->p;
		while (l->p < l->end &&
		    (is_atext((unsigned char)*l->p) || *l->p == '.'))
			l->p++;
		buf_append(domain, start, (size_t)(l->p - start));
		lex_skip_cfws(l);
		if (l->p == start || l->p >= l->end ||
		    !(is_atext((unsigned char)*l->p) || *l->p == '.'))
			break;
	}
}

/* One mailbox, or the start of a group. */
static void
address_one(struct buf *out, size_t *n, struct lex *l, int *in_group)
{
	struct buf phrase, local, domain, route, ignored;
	const char *before = l->p, *name;

	buf_init(&phrase);
	buf_init(&local);
	buf_init(&domain);
	buf_init(&route);
	buf_init(&ignored);
	buf_puts(&phrase, "");
	buf_puts(&local, "");
	buf_puts(&domain, "");
	buf_puts(&route, "");
	buf_reset(l->comment);
	address_words(l, &phrase, &local);
	if (l->p < l->end && *l->p == ':') {
		l->p++;
		if (!*in_group) {
			address_emit(out, n, NULL, NULL, phrase.data, NULL);
			*in_group = 1;
		}
	} else if (l->p < l->end && *l->p == '<') {
		l->p++;
		lex_skip_cfws(l);
		if (l->p < l->end && *l->p == '@') {
			while (l->p < l->end && *l->p != ':' && *l->p != '>') {
				if (!is_blank(*l->p) && *l->p != '\r' &&
				    *l->p != '\n')
					buf_putc(&route, (unsigned char)*l->p);
				l->p++;
			}
			if (l->p < l->end && *l->p == ':')
				l->p++;
		}
		buf_reset(&local);
		buf_puts(&local, "");
		address_words(l, &ignored, &local);
		if (l->p < l->end && *l->p == '@') {
			l->p++;
			address_domain(l, &domain);
		}
		while (l->p < l->end && *l->p != '>')
			l->p++;
		if (l->p < l->end)
			l->p++;
		address_emit(out, n, phrase.len ? phrase.data : NULL,
		    route.len ? route.data : NULL,
		    local.len ? local.data : "MISSING_MAILBOX",
		    domain.len ? domain.data : "MISSING_DOMAIN");
	} else {
		if (l->p < l->end && *l->p == '@') {
			l->p++;
			address_domain(l, &domain);
		}
		name = l->comment->len ? l->comment->data : NULL;
		if (local.len > 0 || domain.len > 0)
			address_emit(out, n, name, NULL,
			    local.len ? local.data : "MISSING_MAILBOX",
			    domain.len ? domain.data : "MISSING_DOMAIN");
		if (l->p < l->end && *l->p != ',' && *l->p != ';')
			l->p++;		/* a stray character */
	}
	if (l->p == before)
		l->p++;
	buf_free(&phrase);
	buf_free(&local);
	buf_free(&domain);
	buf_free(&route);
	buf_free(&ignored);
}

/* Parse an address list into IMAP address structures; their count. */
static size_t
address_list(struct buf *out, const char *v, size_t len)
{
	struct buf comment;
	struct lex l = { v, v + len, NULL };
	size_t n = 0;
	int in_group = 0;

	buf_init(&comment);
	buf_puts(&comment, "");
	l.comment = &comment;
	for (;;) {
		lex_skip_cfws(&l);
		if (l.p >= l.end)
			break;
		if (*l.p == ',') {
			l.p++;
			continue;
		}
		if (*l.p == ';') {
			l.p++;
			if (in_group)
				address_emit(out, &n, NULL, NULL, NULL, NULL);
			in_group = 0;
			continue;
		}
		address_one(out, &n, &l, &in_group);
	}
	if (in_group)
		address_emit(out, &n, NULL, NULL, NULL, NULL);
	buf_free(&comment);
	return n;
}

/*
 * BODY[section] (RFC 3501 6.4.5).
 */

/* A keyword at s[*i] (case insensitive); advances past it. */
static int
section_keyword(const char *s, size_t len, size_t *i, const char *kw)
{
	size_t n = strlen(kw);

	if (len - *i < n || !ci_eq(s + *i, n, kw))
		return 0;
	*i += n;
	return 1;
}

/* SP "(" header-fld-name *(SP header-fld-name) ")" at the end. */
static int
section_names(const char *s, size_t len, size_t *ip, struct section_spec *sp)
{
	size_t i = *ip, start;
	unsigned char c;

	if (i + 1 >= len || s[i] != ' ' || s[i + 1] != '(')
		return MIME_SECTION_BAD;
	i += 2;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			return MIME_SECTION_BAD;
		if (s[i] == ')')
			break;
		if (sp->nnames >= MIME_SECTION_FIELDS_MAX)
			return MIME_SECTION_BAD;
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				c = (unsigned char)s[i];
				if (c == '\0' || c == '\r' || c == '\n' ||
				    c >= 0x80)
					return MIME_SECTION_BAD;
				buf_putc(&sp->names, c);
			}
			if (i >= len)
				return MIME_SECTION_BAD;
			i++;
		} else {
			start = i;
			while (i < len && (c = (unsigned char)s[i]) > ' ' &&
			    c < 0x7f && strchr("(){%*\"\\]", c) == NULL)
				buf_putc(&sp->names, s[i++]);
			if (i == start)
				return MIME_SECTION_BAD;
		}
		buf_putc(&sp->names, '\0');
		sp->nnames++;
		if (i < len && s[i] != ' ' && s[i] != ')')
			return MIME_SECTION_BAD;
	}
	if (sp->nnames == 0 || i + 1 != len)
		return MIME_SECTION_BAD;
	*ip = len;
	return MIME_SECTION_OK;
}

static int
section_parse(const char *s, size_t len, struct section_spec *sp)
{
	unsigned long long n;
	size_t i = 0;

	memset(sp->path, 0, sizeof(sp->path));
	sp->npath = 0;
	sp->too_deep = 0;
	sp->kind = SEC_ALL;
	sp->nnames = 0;
	buf_init(&sp->names);
	if (len > MIME_SECTION_MAX)
		return MIME_SECTION_BAD;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (s[i] == '0')
			return MIME_SECTION_BAD;	/* nz-number */
		for (n = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			n = n * 10 + (unsigned)(s[i] - '0');
			if (n > 4294967295ULL)
				return MIME_SECTION_BAD;
		}
		if (sp->npath < MIME_PATH_MAX)
			sp->path[sp->npath++] = (unsigned int)n;
		else
			sp->too_deep = 1;
		if (i == len)
			return MIME_SECTION_OK;
		if (s[i++] != '.' || i == len)
			return MIME_SECTION_BAD;
	}
	if (i == len)
		return MIME_SECTION_OK;		/* "" */
	if (section_keyword(s, len, &i, "HEADER.FIELDS.NOT"))
		sp->kind = SEC_FIELDS_NOT;
	else if (section_keyword(s, len, &i, "HEADER.FIELDS"))
		sp->kind = SEC_FIELDS;
	else if (section_keyword(s, len, &i, "HEADER"))
		sp->kind = SEC_HEADER;
	else if (section_keyword(s, len, &i, "TEXT"))
		sp->kind = SEC_TEXT;
	else if (sp->npath > 0 && section_keyword(s, len, &i, "MIME"))
		sp->kind = SEC_MIME;
	else
		return MIME_SECTION_BAD;
	if (sp->kind == SEC_FIELDS || sp->kind == SEC_FIELDS_NOT)
		return section_names(s, len, &i, sp);
	return i == len ? MIME_SECTION_OK : MIME_SECTION_BAD;
}

/* The part a path names: "1" of a non-multipart is the part itself. */
static const struct mime_part *
section_find(const struct mime_part *root, const struct section_spec *sp)
{
	const struct mime_part *node = root;
	unsigned int k;
	size_t i;

	if (sp->too_deep)
		return NULL;
	for (i = 0; i < sp->npath; i++) {
		if (node->flags & MIME_PART_MESSAGE)
			node = node->message;
		if (node->flags & MIME_PART_MULTIPART) {
			node = node->children;
			for (k = 1; node != NULL && k < sp->path[i]; k++)
				node = node->next;
			if (node == NULL)
				return NULL;
		} else if (sp->path[i] != 1)
			return NULL;
	}
	return node;
}

/* HEADER.FIELDS[.NOT]: the chosen fields as sent, then a blank line. */
static void
section_fields(struct buf *out, const char *hdr, size_t hlen,
    const struct section_spec *sp, int not)
{
	struct mime_field f;
	const char *name;
	size_t pos = 0, k;
	int match;

	while (mime_header_next(hdr, hlen, &pos, &f)) {
		match = 0;
		name = sp->names.data;
		for (k = 0; k < sp->nnames && !match; k++) {
			match = ci_eq(f.name, f.name_len, name);
			name += strlen(name) + 1;
		}
		if (match != not)
			buf_append(out, f.raw, f.raw_len);
	}
	buf_append(out, "\r\n", 2);
}

int
mime_section(const char *msg, size_t len, const struct mime_part *root,
    const char *section, size_t seclen, struct buf *built,
    const char **data, size_t *datalen)
{
	struct section_spec sp;
	const struct mime_part *node, *m;
	size_t off = 0, n = len;
	int rc;

	*data = msg;
	*datalen = 0;
	if ((rc = section_parse(section, seclen, &sp)) != MIME_SECTION_OK)
		goto done;
	rc = MIME_SECTION_NONE;
	if ((node = section_find(root, &sp)) == NULL)
		goto done;
	m = sp.npath == 0 ? root : (node->flags & MIME_PART_MESSAGE) ?
	    node->message : NULL;
	switch (sp.kind) {
	case SEC_ALL:
		if (sp.npath > 0) {
			off = node->body_offset;
			n = node->body_len;
		}
		break;
	case SEC_MIME:
		off = node->header_offset;
		n = node->header_len;
		break;
	case SEC_TEXT:
		if (m == NULL)
			goto done;
		off = m->body_offset;
		n = m->body_len;
		break;
	case SEC_HEADER:
		if (m == NULL)
			goto done;
		off = m->header_offset;
		n = m->header_len;
		break;
	default:
		if (m == NULL || m->header_offset + m->header_len > len)
			goto done;
		buf_reset(built);
		section_fields(built, msg + m->header_offset, m->header_len,
		    &sp, sp.kind == SEC_FIELDS_NOT);
		*data = built->data;
		*datalen = built->len;
		rc = MIME_SECTION_OK;
		goto done;
	}
	if (off > len || n > len - off)
		goto done;
	*data = msg + off;
	*datalen = n;
	rc = MIME_SECTION_OK;
done:
	buf_free(&sp.names);
	return rc;
}

int
mime_section_valid(const char *section, size_t seclen)
{
	struct section_spec sp;
	int rc;

	rc = section_parse(section, seclen, &sp);
	buf_free(&sp.names);
	return rc;
}

int
mime_section_normalize(struct buf *out, const char *section, size_t seclen)
{
	static const char *const kw[] = { "", "HEADER", "HEADER.FIELDS",
	    "HEADER.FIELDS.NOT", "TEXT", "MIME" };
	struct section_spec sp;
	const char *name;
	size_t i, k;
	int rc, quote;

	if ((rc = section_parse(section, seclen, &sp)) != MIME_SECTION_OK) {
		buf_free(&sp.names);
		return rc;
	}
	if (sp.too_deep) {
		/* echo the path as given; it names nothing anyway */
		buf_append(out, section, seclen);
		buf_free(&sp.names);
		return rc;
	}
	for (i = 0; i < sp.npath; i++)
		buf_printf(out, "%s%u", i > 0 ? "." : "", sp.path[i]);
	if (sp.kind != SEC_ALL)
		buf_printf(out, "%s%s", sp.npath > 0 ? "." : "", kw[sp.kind]);
	if (sp.kind == SEC_FIELDS || sp.kind == SEC_FIELDS_NOT) {
		buf_puts(out, " (");
		name = sp.names.data;
		for (k = 0; k < sp.nnames; k++) {
			if (k > 0)
				buf_putc(out, ' ');
			quote = name[0] == '\0';
			for (i = 0; name[i] != '\0'; i++)
				if ((unsigned char)name[i] <= ' ' ||
				    strchr("(){%*\"\\]", name[i]) != NULL)
					quote = 1;
			if (quote)
				buf_putc(out, '"');
			for (i = 0; name[i] != '\0'; i++) {
				if (quote && (name[i] == '"' ||
				    name[i] == '\\'))
					buf_putc(out, '\\');
				buf_putc(out, ascii_upper((unsigned char)
				    name[i]));
			}
			if (quote)
				buf_putc(out, '"');
			name += strlen(name) + 1;
		}
		buf_putc(out, ')');
	}
	buf_free(&sp.names);
	return MIME_SECTION_OK;
}

void
mime_partial(size_t len, unsigned long long origin, unsigned long long count,
    size_t *off, size_t *n)
{
	*off = origin > len ? len : (size_t)origin;
	*n = count > len - *off ? len - *off : (size_t)count;
}

/*
 * Decoding: transfer encodings, charsets, RFC 2047.
 */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
utf8_put(struct buf *out, uint32_t cp)
{
	char b[4];

	if (cp < 0x80) {
		buf_putc(out, (int)cp);
		return;
	}
	if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, b, 3);
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		buf_append(out, b, 4);
	}
}

/* One UTF-8 sequence: its length, or 1 with *cp = UINT32_MAX if invalid. */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n, i;
	uint32_t v, min;

	*cp = UINT32_MAX;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, v = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, v = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, v = c & 0x07, min = 0x10000;
	else
		return 1;
	if (len < n)
		return 1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 1;
	*cp = v;
	return n;
}

/* Append s, replacing every invalid UTF-8 sequence with U+FFFD. */
static void
utf8_valid_append(struct buf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0, n;
	uint32_t cp;

	while (i < len) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_decode(u + i, len - i, &cp);
		if (cp != UINT32_MAX) {
			i += n;
			continue;
		}
		buf_append(out, s + start, i - start);
		utf8_put(out, 0xfffd);
		start = ++i;
	}
	buf_append(out, s + start, len - start);
}

static int
charset_is(const char *cs, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strcasecmp(cs, *names) == 0)
			return 1;
	return 0;
}

static int
charset_iconv(struct buf *out, const char *cs, const char *in, size_t len)
{
	char obuf[4096], *ip = (char *)in, *op;
	size_t ileft = len, oleft, i;
	iconv_t cd;

	/* names only: no "//" suffixes or paths reach iconv_open */
	for (i = 0; cs[i] != '\0'; i++)
		if (i >= 64 || !((cs[i] >= 'a' && cs[i] <= 'z') ||
		    (cs[i] >= 'A' && cs[i] <= 'Z') ||
		    (cs[i] >= '0' && cs[i] <= '9') || strchr("-_.:+", cs[i])))
			return -1;
	if (i == 0 || (cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return -1;
	while (ileft > 0) {
		op = obuf;
		oleft = sizeof(obuf);
		if (iconv(cd, &ip, &ileft, &op, &oleft) != (size_t)-1) {
			buf_append(out, obuf, (size_t)(op - obuf));
			continue;
		}
		buf_append(out, obuf, (size_t)(op - obuf));
		if (errno == E2BIG)
			continue;
		utf8_put(out, 0xfffd);		/* EILSEQ or EINVAL */
		ip++;
		ileft--;
		(void)iconv(cd, NULL, NULL, NULL, NULL);
	}
	op = obuf;
	oleft = sizeof(obuf);
	(void)iconv(cd, NULL, NULL, &op, &oleft);
	buf_append(out, obuf, (size_t)(op - obuf));
	iconv_close(cd);
	return 0;
}

int
mime_charset_to_utf8(struct buf *out, const char *charset, const char *in,
    size_t len)
{
	static const char *const utf8[] = { "utf-8", "utf8", "us-ascii",
	    "ascii", "unicode-1-1-utf-8", "ansi_x3.4-1968", NULL };
	static const char *const latin1[] = { "iso-8859-1", "iso8859-1",
	    "iso_8859-1", "latin1", "l1", "cp819", NULL };
	static const char *const cp1252[] = { "windows-1252", "cp1252",
	    "x-cp1252", NULL };
	static const uint16_t w1252[32] = { 0x20ac, 0xfffd, 0x201a, 0x0192,
	    0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039,
	    0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c,
	    0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a,
	    0x0153, 0xfffd, 0x017e, 0x0178 };
	const unsigned char *u = (const unsigned char *)in;
	size_t i;
	int is1252;

	buf_reserve(out, len);
	if (charset_is(charset, utf8)) {
		utf8_valid_append(out, in, len);
		return 0;
	}
	if ((is1252 = charset_is(charset, cp1252)) ||
	    charset_is(charset, latin1)) {
		for (i = 0; i < len; i++)
			utf8_put(out, is1252 && u[i] >= 0x80 && u[i] < 0xa0 ?
			    w1252[u[i] - 0x80] : u[i]);
		return 0;
	}
	if (charset_iconv(out, charset, in, len) == 0)
		return 0;
	utf8_valid_append(out, in, len);
	return -1;
}

static void
base64_decode(struct buf *out, const char *s, size_t len)
{
	uint32_t acc = 0;
	size_t i;
	int bits = 0, v;
	unsigned char c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			continue;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (int)(acc >> bits & 0xff));
		}
	}
}

/* Quoted-printable (body) or RFC 2047 Q (header: '_' is a space). */
static void
qp_decode(struct buf *out, const char *s, size_t len, int header)
{
	size_t i, j;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (header && s[i] == '_') {
			buf_putc(out, ' ');
			continue;
		}
		if (s[i] != '=') {
			buf_putc(out, (unsigned char)s[i]);
			continue;
		}
		if (i + 2 < len && (hi = hexval((unsigned char)s[i + 1]))
		    >= 0 && (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			buf_putc(out, hi << 4 | lo);
			i += 2;
			continue;
		}
		/* a soft line break: '=', blanks, [CR]LF */
		for (j = i + 1; j < len && is_blank(s[j]); j++)
			;
		if (j < len && s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
			j++;
		if (!header && (j == len || s[j] == '\n')) {
			i = j;
			continue;
		}
		buf_putc(out, '=');
	}
}

/*
 * =?charset[*lang]?B|Q?text?= at v[*ip]: charset in cs, bytes appended to
 * bytes, *ip past it; 0 (nothing consumed) if it is not one.
 */
static int
encoded_word(const char *v, size_t len, size_t *ip, struct buf *cs,
    struct buf *bytes)
{
	size_t i = *ip + 2, cstart = i, cend, tstart;
	int enc;

	while (i < len && v[i] != '?' && is_token((unsigned char)v[i]) &&
	    i - cstart < 76)
		i++;
	if (i == cstart || i + 3 >= len || v[i] != '?' || v[i + 2] != '?')
		return 0;
	cend = i;
	enc = ascii_upper((unsigned char)v[i + 1]);
	if (enc != 'B' && enc != 'Q')
		return 0;
	tstart = i + 3;
	for (i = tstart; i + 1 < len; i++) {
		if (v[i] == '\r' || v[i] == '\n' || i - tstart > MIME_WORD_MAX)
			return 0;
		if (v[i] == '?' && v[i + 1] == '=')
			break;
	}
	if (i + 1 >= len)
		return 0;
	buf_reset(cs);
	buf_append(cs, v + cstart, cend - cstart);
	buf_puts(cs, "");
	if (memchr(cs->data, '*', cs->len) != NULL)
		cs->data[strcspn(cs->data, "*")] = '\0';	/* RFC 2231 */
	if (enc == 'B')
		base64_decode(bytes, v + tstart, i - tstart);
	else
		qp_decode(bytes, v + tstart, i - tstart, 1);
	*ip = i + 2;
	return 1;
}

void
mime_header_decode(struct buf *out, const char *v, size_t len)
{
	struct buf ws, cs, word, wordcs;
	size_t i = 0, j, start;
	int inword = 0;

	buf_init(&ws);
	buf_init(&cs);
	buf_init(&word);
	buf_init(&wordcs);
	buf_puts(&wordcs, "");
	buf_puts(out, "");
	while (i < len) {
		if (v[i] == '\r' || v[i] == '\n') {
			i++;
			continue;
		}
		if (v[i] == '=' && i + 1 < len && v[i + 1] == '?') {
			j = i;
			start = word.len;
			if (encoded_word(v, len, &j, &cs, &word)) {
				if (inword && strcasecmp(cs.data,
				    wordcs.data) != 0) {
					/* another charset: convert the last */
					(void)mime_charset_to_utf8(out,
					    wordcs.data, word.data, start);
					buf_consume(&word, start);
				}
				if (!inword)
					buf_append(out, ws.data, ws.len);
				buf_reset(&ws);
				buf_reset(&wordcs);
				buf_puts(&wordcs, cs.data);
				inword = 1;
				i = j;
				continue;
			}
		}
		if (is_blank(v[i])) {
			buf_putc(&ws, (unsigned char)v[i++]);
			continue;
		}
		if (inword) {
			(void)mime_charset_to_utf8(out, wordcs.data,
			    word.data ? word.data : "", word.len);
			buf_reset(&word);
			inword = 0;
		}
		buf_append(out, ws.data, ws.len);
		buf_reset(&ws);
		start = i;
		while (i < len && !is_blank(v[i]) && v[i] != '\r' &&
		    v[i] != '\n' && !(v[i] == '=' && i + 1 < len &&
		    v[i + 1] == '?' && i > start))
			i++;
		utf8_valid_append(out, v + start, i - start);
	}
	if (inword)
		(void)mime_charset_to_utf8(out, wordcs.data,
		    word.data ? word.data : "", word.len);
	buf_append(out, ws.data, ws.len);
	buf_free(&ws);
	buf_free(&cs);
	buf_free(&word);
	buf_free(&wordcs);
}

void
mime_body_decode(struct buf *out, const char *msg,
    const struct mime_part *part)
{
	const char *body = msg + part->body_offset, *cs;
	struct buf raw;
	size_t len = part->body_len;

	if (part->flags & MIME_PART_MULTIPART)
		return;
	buf_init(&raw);
	if (part->encoding != NULL && strcasecmp(part->encoding,
	    "base64") == 0) {
		base64_decode(&raw, body, len);
		body = raw.data ? raw.data : "";
		len = raw.len;
	} else if (part->encoding != NULL && strcasecmp(part->encoding,
	    "quoted-printable") == 0) {
		qp_decode(&raw, body, len, 0);
		body = raw.data ? raw.data : "";
		len = raw.len;
	}
	if (part->flags & MIME_PART_TEXT) {
		cs = param_find(part->params, part->nparams, "charset");
		(void)mime_charset_to_utf8(out, cs != NULL && cs[0] != '\0' ?
		    cs : "us-ascii", body, len);
	} else
		buf_append(out, body, len);
	buf_free(&raw);
}

/*
 * Searching (SEARCH BODY/TEXT/HEADER): simple case folding, RFC 4790's
 * i;unicode-casemap reduced to the scripts mail in Europe uses most.
 */

static uint32_t
fold_cp(uint32_t c)
{
	if (c < 0x80)
		return (uint32_t)ascii_lower((int)c);
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3ab && c != 0x3a2) ||
	    (c >= 0x410 && c <= 0x42f))
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c == 0x130)
		return 'i';
	if (c == 0x178)
		return 0xff;
	if (c == 0x3c2)
		return 0x3c3;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177))
		return c | 1;
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) &&
	    (c & 1))
		return c + 1;
	return c;
}

static void
fold_append(struct buf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	buf_reserve(out, len);
	while (i < len) {
		if (u[i] < 0x80) {
			buf_putc(out, ascii_lower(u[i++]));
			continue;
		}
		n = utf8_decode(u + i, len - i, &cp);
		if (cp == UINT32_MAX)
			buf_putc(out, u[i]);
		else
			utf8_put(out, fold_cp(cp));
		i += n;
	}
}

/* ASCII-only folding: enough when the needle is ASCII. */
static void
fold_ascii_append(struct buf *out, const char *s, size_t len)
{
	size_t i;

	buf_reserve(out, len);
	for (i = 0; i < len; i++)
		out->data[out->len + i] =
		    (char)ascii_lower((unsigned char)s[i]);
	out->len += len;
	out->data[out->len] = '\0';
}

/* memmem (glibc's two-way search: linear, whatever the client sends). */
int
mime_contains(const char *hay, size_t haylen, const char *needle,
    size_t needlelen)
{
	struct buf h, n;
	size_t i;
	int found;

	if (needlelen == 0)
		return 1;
	if (needlelen > haylen * 4 + 4)
		return 0;	/* folding changes lengths at most 3/2 */
	for (i = 0; i < needlelen; i++)
		if ((unsigned char)needle[i] >= 0x80)
			break;
	buf_init(&h);
	buf_init(&n);
	if (i == needlelen) {
		fold_ascii_append(&h, hay, haylen);
		fold_ascii_append(&n, needle, needlelen);
	} else {
		fold_append(&h, hay, haylen);
		fold_append(&n, needle, needlelen);
	}
	found = h.len >= n.len && memmem(h.data, h.len, n.data, n.len) != NULL;
	buf_free(&h);
	buf_free(&n);
	return found;
}

/* Every field of part's header, decoded, as "Name: value" lines. */
static int
search_header(const char *msg, const struct mime_part *part,
    const char *key, size_t keylen, struct buf *tmp)
{
	struct mime_field f;
	size_t pos = 0;

	buf_reset(tmp);
	while (mime_header_next(msg + part->header_offset, part->header_len,
	    &pos, &f)) {
		buf_append(tmp, f.name, f.name_len);
		buf_append(tmp, ": ", 2);
		mime_header_decode(tmp, f.value, f.value_len);
		buf_putc(tmp, '\n');
	}
	return mime_contains(tmp->data ? tmp->data : "", tmp->len, key,
	    keylen);
}

static int
search_part(const char *msg, const struct mime_part *part, const char *key,
    size_t keylen, int headers, struct buf *tmp)
{
	const struct mime_part *c;

	if (part->flags & MIME_PART_MULTIPART) {
		for (c = part->children; c != NULL; c = c->next)
			if (search_part(msg, c, key, keylen, headers, tmp))
				return 1;
		return 0;
	}
	if (part->flags & MIME_PART_MESSAGE)
		return search_header(msg, part->message, key, keylen, tmp) ||
		    search_part(msg, part->message, key, keylen, headers, tmp);
	if (!(part->flags & MIME_PART_TEXT))
		return 0;
	buf_reset(tmp);
	mime_body_decode(tmp, msg, part);
	return mime_contains(tmp->data ? tmp->data : "", tmp->len, key,
	    keylen);
}

int
mime_search_text(const char *msg, const struct mime_part *root,
    const char *key, size_t keylen, int headers)
{
	struct buf tmp;
	int found;

	buf_init(&tmp);
	found = (headers && search_header(msg, root, key, keylen, &tmp)) ||
	    search_part(msg, root, key, keylen, headers, &tmp);
	buf_free(&tmp);
	return found;
}
