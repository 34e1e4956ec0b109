/*
 * pop3: command-line parsing and the RETR/TOP stream conversion. Pure:
 * no I/O, no globals; the converter appends to a caller's buffer and
 * keeps its state in a struct so it can be fed a byte at a time.
 */
#include <string.h>

#include "proto/pop3.h"

static int	pop3_line_clean(const char *, size_t);
static size_t	pop3_skip_spaces(const char *, size_t, size_t);
static size_t	pop3_token_end(const char *, size_t, size_t);
static void	pop3_msgconv_line_end(struct pop3_msgconv *, int);

/* Control characters are never part of a POP3 line; UTF-8 may be (PASS). */
static int
pop3_line_clean(const char *line, size_t len)
{
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static size_t
pop3_skip_spaces(const char *line, size_t len, size_t i)
{
	while (i < len && line[i] == ' ')
		i++;
	return i;
}

static size_t
pop3_token_end(const char *line, size_t len, size_t i)
{
	while (i < len && line[i] != ' ')
		i++;
	return i;
}

int
pop3_command_parse(const char *line, size_t len, struct pop3_command *cmd)
{
	size_t i, start, end, k;
	unsigned char c;

	memset(cmd, 0, sizeof(*cmd));
	cmd->rest = line + len;
	if (!pop3_line_clean(line, len))
		return POP3_PARSE_BADCHAR;
	start = pop3_skip_spaces(line, len, 0);
	end = pop3_token_end(line, len, start);
	if (end == start)
		return POP3_PARSE_EMPTY;
	if (end - start > POP3_VERB_MAX)
		return POP3_PARSE_BADVERB;
	for (k = 0; k < end - start; k++) {
		c = (unsigned char)line[start + k];
		if (c > 0x7e)
			return POP3_PARSE_BADVERB;
		cmd->verb[k] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	cmd->verb[k] = '\0';
	if (end < len) {
		/* PASS takes the rest verbatim: a password may hold spaces. */
		cmd->rest = line + end + 1;
		cmd->rest_len = len - end - 1;
	}
	for (i = pop3_skip_spaces(line, len, end); i < len;
	    i = pop3_skip_spaces(line, len, end)) {
		end = pop3_token_end(line, len, i);
		if (cmd->nargs == POP3_ARGS_MAX) {
			cmd->extra_args = 1;
			break;
		}
		cmd->args[cmd->nargs].s = line + i;
		cmd->args[cmd->nargs].len = end - i;
		cmd->nargs++;
	}
	return POP3_PARSE_OK;
}

int
pop3_number_parse(const struct pop3_arg *arg, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long n = 0;
	unsigned digit;
	size_t i;

	if (arg->len == 0)
		return -1;
	for (i = 0; i < arg->len; i++) {
		if (arg->s[i] < '0' || arg->s[i] > '9')
			return -1;
		digit = (unsigned)(arg->s[i] - '0');
		if (digit > max || n > (max - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}
	*out = n;
	return 0;
}

int
pop3_uidl_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > POP3_UIDL_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

void
pop3_msgconv_init(struct pop3_msgconv *conv, long long body_lines)
{
	memset(conv, 0, sizeof(*conv));
	conv->body_lines = body_lines < 0 ? -1 : body_lines;
}

/* A line ended; empty tells whether it held nothing but its line end. */
static void
pop3_msgconv_line_end(struct pop3_msgconv *conv, int empty)
{
	conv->line_len = 0;
	conv->prev_cr = 0;
	if (!conv->in_body) {
		if (empty) {
			conv->in_body = 1;
			if (conv->body_lines == 0)
				conv->done = 1;
		}
		return;
	}
	if (conv->body_lines > 0 && --conv->body_lines == 0)
		conv->done = 1;
}

size_t
pop3_msgconv_feed(struct pop3_msgconv *conv, const char *in, size_t len,
    struct buf *out)
{
	const char *lf;
	size_t i = 0, seg;
	int cr, empty;

	while (i < len && !conv->done) {
		if (conv->line_len == 0 && in[i] == '.' && out != NULL)
			buf_putc(out, '.');
		if ((lf = memchr(in + i, '\n', len - i)) == NULL) {
			seg = len - i;
			if (out != NULL)
				buf_append(out, in + i, seg);
			conv->line_len += seg;
			conv->octets += (off_t)seg;
			conv->prev_cr = in[len - 1] == '\r';
			return len;
		}
		seg = (size_t)(lf - (in + i));
		cr = seg > 0 ? in[i + seg - 1] == '\r' : conv->prev_cr;
		empty = conv->line_len + seg == 0 ||
		    (conv->line_len + seg == 1 && cr);
		if (out != NULL) {
			buf_append(out, in + i, seg);
			buf_append(out, cr ? "\n" : "\r\n", cr ? 1 : 2);
		}
		conv->octets += (off_t)(seg + (cr ? 1 : 2));
		i += seg + 1;
		pop3_msgconv_line_end(conv, empty);
	}
	return i;
}

void
pop3_msgconv_end(struct pop3_msgconv *conv, struct buf *out)
{
	if (conv->line_len > 0)
		buf_puts(out, conv->prev_cr ? "\n" : "\r\n");
	conv->line_len = 0;
	conv->prev_cr = 0;
	buf_puts(out, ".\r\n");
}
