/*
 * smtp_data: a byte-at-a-time state machine. A CR is held back until the
 * next byte says whether it starts a CRLF (which becomes LF) or is a bare
 * CR (kept as content); a dot at the start of a line is held back until we
 * know whether it ends the data or was stuffing.
 */
#include "proto/smtp_data.h"

enum {
	DATA_BOL,	/* at a line start after CRLF (also the very start) */
	DATA_BOL_LF,	/* at a line start after a bare LF */
	DATA_TEXT,	/* inside a line */
	DATA_CR,	/* a CR held back */
	DATA_DOT,	/* "." at BOL held back */
	DATA_DOT_CR,	/* "." CR at BOL held back */
	DATA_DONE
};

static int data_text(struct smtp_data *, char, char *, size_t *);

void
smtp_data_init(struct smtp_data *d)
{
	d->state = DATA_BOL;
	d->bare = 0;
}

int
smtp_data_done(const struct smtp_data *d)
{
	return d->state == DATA_DONE;
}

int
smtp_data_at_bol(const struct smtp_data *d)
{
	return d->state == DATA_BOL || d->state == DATA_BOL_LF ||
	    d->state == DATA_DONE;
}

/* data_text: one byte inside a line; a LF here is a bare LF. */
static int
data_text(struct smtp_data *d, char c, char *out, size_t *o)
{
	if (c == '\r')
		return DATA_CR;
	out[(*o)++] = c;
	if (c == '\n') {
		d->bare = 1;
		return DATA_BOL_LF;
	}
	return DATA_TEXT;
}

size_t
smtp_data_decode(struct smtp_data *d, const char *in, size_t len, char *out,
    size_t outsize, size_t *outlen)
{
	size_t i = 0, o = 0;
	char c;

	/* Each input byte writes at most two output bytes (a held CR + it). */
	while (i < len && o + 2 <= outsize && d->state != DATA_DONE) {
		c = in[i++];
		switch (d->state) {
		case DATA_BOL:
			d->state = c == '.' ? DATA_DOT : data_text(d, c, out, &o);
			break;
		case DATA_BOL_LF:
			/* A leading dot is stuffing even after a bare LF. */
			d->state = c == '.' ? DATA_TEXT : data_text(d, c, out, &o);
			break;
		case DATA_DOT:
			/* "." CR may end the data; other dots were stuffing. */
			d->state = c == '\r' ? DATA_DOT_CR :
			    data_text(d, c, out, &o);
			break;
		case DATA_DOT_CR:
			if (c == '\n') {
				d->state = DATA_DONE;
				break;
			}
			out[o++] = '\r';
			d->bare = 1;
			d->state = data_text(d, c, out, &o);
			break;
		case DATA_CR:
			if (c == '\n') {
				out[o++] = '\n';
				d->state = DATA_BOL;
				break;
			}
			out[o++] = '\r';
			d->bare = 1;
			d->state = data_text(d, c, out, &o);
			break;
		default:
			d->state = data_text(d, c, out, &o);
			break;
		}
	}
	*outlen = o;
	return i;
}

size_t
smtp_bdat_decode(struct smtp_data *d, const char *in, size_t len, char *out,
    size_t outsize, size_t *outlen)
{
	size_t i = 0, o = 0;
	char c;

	while (i < len && o + 2 <= outsize) {
		c = in[i++];
		if (d->state == DATA_CR) {
			d->state = DATA_TEXT;
			if (c == '\n') {
				out[o++] = '\n';
				continue;
			}
			out[o++] = '\r';
		}
		if (c == '\r')
			d->state = DATA_CR;
		else
			out[o++] = c;
	}
	*outlen = o;
	return i;
}

size_t
smtp_bdat_flush(struct smtp_data *d, char *out)
{
	if (d->state != DATA_CR)
		return 0;
	d->state = DATA_TEXT;
	out[0] = '\r';
	return 1;
}
