/*
 * imap: the IMAP command reader and parser (see imap.h). The reader only
 * looks at line ends, where a literal marker {n} or {n+} says how many
 * raw bytes follow; the size is checked against the limits before anything
 * is stored, so {4294967295} costs nothing. The parser then walks the
 * assembled bytes once, copying each string into its argument.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "proto/imap.h"

#define IMAP_LITERAL_DIGITS	10	/* 4294967295 */
#define IMAP_QUOTE_MAX		1024	/* longer strings go as literals */

struct imap_cursor {
	const char *p, *end;
	const struct imap_limits *lim;
	size_t	 nargs;
	const char *error;
};

static int	imap_reader_line_end(struct imap_reader *);
static int	imap_literal_marker(const char *, size_t, uint64_t *, int *);
static void	imap_reader_tag(struct imap_reader *);
static int	imap_reader_refuse(struct imap_reader *, int, const char *);
static int	imap_tag_char(int);
static int	imap_atom_char(int);
static int	imap_parse_args(struct imap_cursor *, int, struct imap_arg **,
		    size_t *);
static int	imap_parse_arg(struct imap_cursor *, int, struct imap_arg *);
static int	imap_parse_quoted(struct imap_cursor *, struct imap_arg *);
static int	imap_parse_literal(struct imap_cursor *, struct imap_arg *);
static int	imap_parse_atom(struct imap_cursor *, int, struct imap_arg *);
static void	imap_args_free(struct imap_arg *, size_t);
static int	imap_seq_number(const char *, const char *, uint32_t *);

void
imap_reader_init(struct imap_reader *r, const struct imap_limits *lim)
{
	memset(r, 0, sizeof(*r));
	r->lim = lim;
	buf_init(&r->cmd);
	strlcpy(r->tag, "*", sizeof(r->tag));
}

void
imap_reader_free(struct imap_reader *r)
{
	buf_free(&r->cmd);
}

size_t
imap_reader_pending(const struct imap_reader *r)
{
	return r->done ? 0 : r->cmd.len;
}

int
imap_reader_feed(struct imap_reader *r, const char *data, size_t len,
    size_t *used)
{
	size_t i = 0, take;
	int rc;

	if (r->done) {
		buf_reset(&r->cmd);
		r->line_start = 0;
		r->done = 0;
	}
	while (i < len) {
		if (r->in_literal) {
			take = len - i < r->literal_left ? len - i :
			    r->literal_left;
			buf_append(&r->cmd, data + i, take);
			i += take;
			if ((r->literal_left -= take) == 0) {
				r->in_literal = 0;
				r->line_start = r->cmd.len;
			}
			continue;
		}
		if (r->cmd.len >= r->lim->command_max) {
			*used = i;
			return imap_reader_refuse(r, IMAP_READ_FATAL,
			    "Command too long.");
		}
		if (data[i] != '\n' &&
		    r->cmd.len - r->line_start >= r->lim->line_max) {
			*used = i;
			return imap_reader_refuse(r, IMAP_READ_FATAL,
			    "Too long line.");
		}
		buf_putc(&r->cmd, data[i++]);
		if (data[i - 1] == '\n' &&
		    (rc = imap_reader_line_end(r)) != IMAP_READ_MORE) {
			*used = i;
			return rc;
		}
	}
	*used = i;
	return IMAP_READ_MORE;
}

/* A line ended: the command too, unless a literal marker ends the line. */
static int
imap_reader_line_end(struct imap_reader *r)
{
	const char *line = r->cmd.data + r->line_start;
	size_t n = r->cmd.len - r->line_start - 1;
	uint64_t size;
	int nonsync;

	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (!imap_literal_marker(line, n, &size, &nonsync)) {
		r->done = 1;
		return IMAP_READ_DONE;
	}
	if (nonsync && size > r->lim->nonsync_max)
		return imap_reader_refuse(r, IMAP_READ_FATAL,
		    "[TOOBIG] Non-synchronizing literal too large.");
	if (size > r->lim->literal_max ||
	    size > r->lim->command_max - (r->cmd.len < r->lim->command_max ?
	    r->cmd.len : r->lim->command_max))
		return imap_reader_refuse(r, nonsync ? IMAP_READ_FATAL :
		    IMAP_READ_BAD, "[TOOBIG] Literal too large.");
	r->literal_left = (size_t)size;
	r->in_literal = size > 0;
	r->line_start = r->cmd.len;
	return nonsync ? IMAP_READ_MORE : IMAP_READ_CONT;
}

/* {digits} or {digits+} at the end of line (n bytes, line end removed). */
static int
imap_literal_marker(const char *line, size_t n, uint64_t *size, int *nonsync)
{
	size_t end, start;

	if (n < 3 || line[n - 1] != '}')
		return 0;
	end = n - 1;
	*nonsync = line[end - 1] == '+';
	if (*nonsync)
		end--;
	start = end;
	while (start > 0 && line[start - 1] >= '0' && line[start - 1] <= '9')
		start--;
	if (start == end || start == 0 || line[start - 1] != '{' ||
	    end - start > IMAP_LITERAL_DIGITS)
		return 0;
	*size = 0;
	for (; start < end; start++)
		*size = *size * 10 + (uint64_t)(line[start] - '0');
	return 1;
}

/* The tag of the command being refused, so the reply can carry it. */
static void
imap_reader_tag(struct imap_reader *r)
{
	size_t i;

	for (i = 0; i < r->cmd.len && i < IMAP_TAG_MAX &&
	    imap_tag_char((unsigned char)r->cmd.data[i]); i++)
		r->tag[i] = r->cmd.data[i];
	if (i == 0 || i >= r->cmd.len || r->cmd.data[i] != ' ')
		i = strlcpy(r->tag, "*", sizeof(r->tag));
	r->tag[i] = '\0';
}

static int
imap_reader_refuse(struct imap_reader *r, int rc, const char *error)
{
	imap_reader_tag(r);
	r->error = error;
	buf_reset(&r->cmd);
	r->line_start = 0;
	r->in_literal = 0;
	r->literal_left = 0;
	return rc;
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static int
imap_tag_char(int c)
{
	return c != '+' && (imap_atom_char(c) || c == ']');
}

/* ATOM-CHAR, plus list-wildcards and resp-specials, both used in atoms. */
static int
imap_atom_char(int c)
{
	return c > ' ' && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

int
imap_parse(const char *data, size_t len, const struct imap_limits *lim,
    struct imap_command *cmd)
{
	struct imap_cursor c = { data, data + len, lim, 0, NULL };
	size_t i;

	memset(cmd, 0, sizeof(*cmd));
	strlcpy(cmd->tag, "*", sizeof(cmd->tag));
	if (c.end > c.p && c.end[-1] == '\n')
		c.end--;
	if (c.end > c.p && c.end[-1] == '\r')
		c.end--;
	for (i = 0; c.p + i < c.end && imap_tag_char((unsigned char)c.p[i]);
	    i++)
		;
	if (i == 0 || i > IMAP_TAG_MAX || c.p + i == c.end || c.p[i] != ' ') {
		cmd->error = "Error in IMAP command received by server.";
		return -1;
	}
	memcpy(cmd->tag, c.p, i);
	cmd->tag[i] = '\0';
	c.p += i + 1;
	for (i = 0; c.p + i < c.end && isalpha((unsigned char)c.p[i]); i++)
		;
	if (i == 0 || i > IMAP_NAME_MAX || (c.p + i < c.end && c.p[i] != ' ')) {
		cmd->error = "Error in IMAP command received by server.";
		return -1;
	}
	for (i = 0; c.p < c.end && *c.p != ' '; c.p++, i++)
		cmd->name[i] = (char)toupper((unsigned char)*c.p);
	cmd->name[i] = '\0';
	if (c.p == c.end)
		return 0;
	c.p++;
	if (imap_parse_args(&c, 0, &cmd->args, &cmd->nargs) == -1) {
		cmd->error = c.error;
		return -1;
	}
	return 0;
}

/* Arguments separated by one space up to the end (depth 0) or ')'. */
static int
imap_parse_args(struct imap_cursor *c, int depth, struct imap_arg **args,
    size_t *n)
{
	size_t size = 0;

	*args = NULL;
	*n = 0;
	if (depth > 0 && c->p < c->end && *c->p == ')')
		return 0;
	for (;;) {
		if (c->p == c->end) {
			c->error = depth > 0 ? "Missing ')'." :
			    "Missing argument.";
			return -1;
		}
		if (++c->nargs > c->lim->args_max) {
			c->error = "Too many arguments.";
			return -1;
		}
		if (*n == size) {
			size = size ? size * 2 : 4;
			*args = xreallocarray(*args, size, sizeof(**args));
		}
		memset(&(*args)[*n], 0, sizeof(**args));
		if (imap_parse_arg(c, depth, &(*args)[(*n)++]) == -1)
			return -1;
		if (c->p == c->end && depth == 0)
			return 0;
		if (c->p < c->end && *c->p == ')' && depth > 0)
			return 0;
		if (c->p == c->end || *c->p != ' ') {
			c->error = "Unexpected character after an argument.";
			return -1;
		}
		c->p++;
	}
}

static int
imap_parse_arg(struct imap_cursor *c, int depth, struct imap_arg *arg)
{
	switch (*c->p) {
	case '(':
		if (depth + 1 > c->lim->depth_max) {
			c->error = "Too deep nesting of lists.";
			return -1;
		}
		c->p++;
		arg->type = IMAP_ARG_LIST;
		if (imap_parse_args(c, depth + 1, &arg->list, &arg->n) == -1)
			return -1;
		if (c->p == c->end || *c->p != ')') {
			c->error = "Missing ')'.";
			return -1;
		}
		c->p++;
		return 0;
	case '"':
		return imap_parse_quoted(c, arg);
	case '{':
		return imap_parse_literal(c, arg);
	default:
		return imap_parse_atom(c, depth, arg);
	}
}

static int
imap_parse_quoted(struct imap_cursor *c, struct imap_arg *arg)
{
	const char *p;
	size_t n = 0;

	arg->type = IMAP_ARG_QUOTED;
	arg->s = xmalloc((size_t)(c->end - c->p));
	for (p = c->p + 1; p < c->end && *p != '"'; p++) {
		if (*p == '\\') {
			if (++p == c->end || (*p != '"' && *p != '\\')) {
				c->error = "Invalid escape in quoted string.";
				return -1;
			}
		} else if (*p == '\0') {
			c->error = "NUL in quoted string.";
			return -1;
		} else if (*p == '\r' || *p == '\n') {
			c->error = "Line break in quoted string.";
			return -1;
		}
		arg->s[n++] = *p;
	}
	if (p == c->end) {
		c->error = "Missing '\"'.";
		return -1;
	}
	arg->s[n] = '\0';
	arg->len = n;
	c->p = p + 1;
	return 0;
}

static int
imap_parse_literal(struct imap_cursor *c, struct imap_arg *arg)
{
	const char *p = c->p + 1;
	uint64_t size = 0;
	int digits = 0;

	arg->type = IMAP_ARG_LITERAL;
	for (; p < c->end && *p >= '0' && *p <= '9'; p++, digits++)
		size = size * 10 + (uint64_t)(*p - '0');
	if (p < c->end && *p == '+')
		p++;
	if (digits == 0 || digits > IMAP_LITERAL_DIGITS || p == c->end ||
	    *p++ != '}') {
		c->error = "Invalid literal.";
		return -1;
	}
	if (p < c->end && *p == '\r')
		p++;
	if (p == c->end || *p++ != '\n' || size > (uint64_t)(c->end - p)) {
		c->error = "Invalid literal.";
		return -1;
	}
	arg->len = (size_t)size;
	arg->s = xmalloc(arg->len + 1);
	memcpy(arg->s, p, arg->len);
	arg->s[arg->len] = '\0';
	c->p = p + arg->len;
	return 0;
}

/* An atom; '[' opens a section (BODY[HEADER.FIELDS (A B)]) up to ']'. */
static int
imap_parse_atom(struct imap_cursor *c, int depth, struct imap_arg *arg)
{
	const char *p = c->p;
	int bracket = 0, quoted = 0;

	arg->type = IMAP_ARG_ATOM;
	for (; p < c->end; p++) {
		if (*p == '\0' || *p == '\r' || *p == '\n' ||
		    (unsigned char)*p >= 0x7f) {
			c->error = *p == '\0' ? "NUL in command." :
			    "Invalid characters in atom.";
			return -1;
		}
		if (quoted) {
			if (*p == '\\' && p + 1 < c->end)
				p++;
			else if (*p == '"')
				quoted = 0;
			continue;
		}
		if (bracket) {
			if (*p == ']')
				bracket = 0;
			else if (*p == '"')
				quoted = 1;
			else if (*p < ' ' || *p == '{')
				break;
			continue;
		}
		if (*p == '[')
			bracket = 1;
		else if (!imap_atom_char((unsigned char)*p))
			break;
	}
	if (p == c->p || bracket || quoted ||
	    (p < c->end && *p != ' ' && !(*p == ')' && depth > 0))) {
		c->error = p == c->p ? "Missing argument." :
		    "Invalid characters in atom.";
		return -1;
	}
	arg->len = (size_t)(p - c->p);
	arg->s = xstrndup(c->p, arg->len);
	c->p = p;
	return 0;
}

void
imap_command_free(struct imap_command *cmd)
{
	imap_args_free(cmd->args, cmd->nargs);
	cmd->args = NULL;
	cmd->nargs = 0;
}

static void
imap_args_free(struct imap_arg *args, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (args[i].s != NULL)	/* LOGIN's password among them */
			explicit_bzero(args[i].s, args[i].len);
		free(args[i].s);
		imap_args_free(args[i].list, args[i].n);
	}
	free(args);
}

const char *
imap_arg_string(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_LIST ? NULL : arg->s;
}

int
imap_arg_is(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && strcasecmp(arg->s, word) == 0;
}

int
imap_seqset_parse(const char *s, size_t max_ranges, struct imap_seqset *set)
{
	const char *item = s, *comma, *colon;
	struct imap_range r;
	size_t size = 0;

	set->r = NULL;
	set->n = 0;
	for (;;) {
		comma = strchr(item, ',');
		if (comma == NULL)
			comma = item + strlen(item);
		colon = memchr(item, ':', (size_t)(comma - item));
		if (imap_seq_number(item, colon ? colon : comma, &r.lo) == -1 ||
		    imap_seq_number(colon ? colon + 1 : item, comma,
		    &r.hi) == -1 || set->n == max_ranges)
			goto bad;
		if (set->n == size) {
			size = size ? size * 2 : 4;
			set->r = xreallocarray(set->r, size, sizeof(*set->r));
		}
		set->r[set->n++] = r;
		if (*comma == '\0')
			return 0;
		item = comma + 1;
	}
bad:
	imap_seqset_free(set);
	return -1;
}

/* nz-number or '*' between s and end. */
static int
imap_seq_number(const char *s, const char *end, uint32_t *out)
{
	uint64_t v = 0;

	if (end - s == 1 && *s == '*') {
		*out = IMAP_SEQ_STAR;
		return 0;
	}
	if (s == end || end - s > IMAP_LITERAL_DIGITS || *s == '0')
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v >= IMAP_SEQ_STAR)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
imap_seqset_has(const struct imap_seqset *set, uint32_t n, uint32_t star)
{
	uint32_t lo, hi, t;
	size_t i;

	for (i = 0; i < set->n; i++) {
		lo = set->r[i].lo == IMAP_SEQ_STAR ? star : set->r[i].lo;
		hi = set->r[i].hi == IMAP_SEQ_STAR ? star : set->r[i].hi;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (n >= lo && n <= hi)
			return 1;
	}
	return 0;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

void
imap_quote(struct buf *b, const char *s, size_t len)
{
	size_t i;
	int literal = len > IMAP_QUOTE_MAX;

	for (i = 0; i < len && !literal; i++)
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n' ||
		    (unsigned char)s[i] >= 0x80)
			literal = 1;
	if (literal) {
		buf_printf(b, "{%zu}\r\n", len);
		buf_append(b, s, len);
		return;
	}
	buf_putc(b, '"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, s[i]);
	}
	buf_putc(b, '"');
}

int
imap_astring_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return 0;
	for (i = 0; i < len; i++)
		if (!imap_atom_char((unsigned char)s[i]) || s[i] == '%' ||
		    s[i] == '*' || s[i] == '\\')
			return 0;
	return 1;
}
