/*
 * smtp_addr: a recursive-descent parser over (pointer, length) for the
 * RFC 5321 Path grammar and the esmtp-param list. Nothing is copied until
 * its length is known to fit; each scanner returns an smtp_addr_error and
 * a static reason, so the caller can build a 501 reply and a log line.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "proto/smtp_addr.h"

#define DOMAIN_LABEL_MAX	63
#define LITERAL_MAX		(sizeof("IPv6:") + INET6_ADDRSTRLEN)

struct scan {
	const char *s;
	size_t	 len;
	size_t	 pos;
	int	 utf8;
	const char *reason;
};

static int is_ctl(unsigned char);
static int is_alnum(unsigned char);
static int is_atext(unsigned char);
static size_t utf8_len(const unsigned char *, size_t);
static size_t scan_atext(struct scan *);
static int scan_dot_string(struct scan *);
static int scan_quoted(struct scan *, char *, size_t *);
static int scan_label(struct scan *);
static int scan_literal(struct scan *);
static int scan_domain(struct scan *, int *);
static int scan_route(struct scan *);
static int scan_local(struct scan *, struct smtp_path *);
static int scan_fail(struct scan *, int, const char *);
static int store_local(struct smtp_path *, const char *, size_t, int);
static int store_param(struct smtp_params *, size_t *, const char *, size_t,
    const char *, size_t);
static int hexval(unsigned char);
static int scan_multi_at(struct scan *, size_t, struct smtp_path *);

static int
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* RFC 5322 atext: ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~". */
static int
is_atext(unsigned char c)
{
	if (is_alnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* utf8_len: length of one well-formed multi-byte UTF-8 sequence, or 0. */
static size_t
utf8_len(const unsigned char *p, size_t left)
{
	unsigned int cp;
	size_t n, i;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	if (p[0] < 0xe0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] < 0xf0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else {
		n = 4;
		cp = p[0] & 0x07;
	}
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return n;
}

static int
scan_fail(struct scan *sc, int error, const char *reason)
{
	if (sc->pos < sc->len && is_ctl((unsigned char)sc->s[sc->pos]))
		reason = "control character in address";
	else if (sc->pos < sc->len && (unsigned char)sc->s[sc->pos] >= 0x80 &&
	    !sc->utf8)
		reason = "8-bit character in address";
	sc->reason = reason;
	return error;
}

/* scan_atext: one run of atext (and UTF-8 when allowed); its length. */
static size_t
scan_atext(struct scan *sc)
{
	size_t start = sc->pos, n;

	while (sc->pos < sc->len) {
		if (is_atext((unsigned char)sc->s[sc->pos])) {
			sc->pos++;
			continue;
		}
		if (!sc->utf8 || (n = utf8_len((const unsigned char *)sc->s +
		    sc->pos, sc->len - sc->pos)) == 0)
			break;
		sc->pos += n;
	}
	return sc->pos - start;
}

/* Dot-string = Atom *("." Atom): no empty atom anywhere. */
static int
scan_dot_string(struct scan *sc)
{
	for (;;) {
		if (scan_atext(sc) == 0)
			return scan_fail(sc, SMTP_ADDR_EADDRESS,
			    "bad local part");
		if (sc->pos >= sc->len || sc->s[sc->pos] != '.')
			return SMTP_ADDR_OK;
		sc->pos++;
	}
}

/*
 * Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE; the
 * unescaped content goes to out (SMTP_LOCAL_MAX + 1 bytes).
 */
static int
scan_quoted(struct scan *sc, char *out, size_t *outlen)
{
	size_t start = sc->pos, n;
	unsigned char c;

	*outlen = 0;
	sc->pos++;			/* the opening DQUOTE */
	while (sc->pos < sc->len) {
		if (sc->pos - start >= SMTP_LOCAL_MAX)
			return scan_fail(sc, SMTP_ADDR_ETOOLONG,
			    "local part too long");
		c = (unsigned char)sc->s[sc->pos];
		if (c == '"') {
			sc->pos++;
			out[*outlen] = '\0';
			return SMTP_ADDR_OK;
		}
		if (c == '\\') {
			if (sc->pos + 1 >= sc->len ||
			    (unsigned char)sc->s[sc->pos + 1] < 32 ||
			    (unsigned char)sc->s[sc->pos + 1] > 126) {
				sc->pos++;
				return scan_fail(sc, SMTP_ADDR_EADDRESS,
				    "bad quoted pair");
			}
			out[(*outlen)++] = sc->s[sc->pos + 1];
			sc->pos += 2;
			continue;
		}
		if (c >= 32 && c <= 126) {
			out[(*outlen)++] = (char)c;
			sc->pos++;
			continue;
		}
		if (!sc->utf8 || (n = utf8_len((const unsigned char *)sc->s +
		    sc->pos, sc->len - sc->pos)) == 0)
			return scan_fail(sc, SMTP_ADDR_EADDRESS,
			    "bad quoted string");
		if (*outlen + n > SMTP_LOCAL_MAX)
			return scan_fail(sc, SMTP_ADDR_ETOOLONG,
			    "local part too long");
		memcpy(out + *outlen, sc->s + sc->pos, n);
		*outlen += n;
		sc->pos += n;
	}
	return scan_fail(sc, SMTP_ADDR_EADDRESS, "unterminated quoted string");
}

/* A label: letters, digits, '-' and (leniently) '_'; no '-' at the ends. */
static int
scan_label(struct scan *sc)
{
	size_t start = sc->pos, n;
	unsigned char c;

	while (sc->pos < sc->len) {
		c = (unsigned char)sc->s[sc->pos];
		if (is_alnum(c) || c == '-' || c == '_') {
			sc->pos++;
			continue;
		}
		if (!sc->utf8 || (n = utf8_len((const unsigned char *)sc->s +
		    sc->pos, sc->len - sc->pos)) == 0)
			break;
		sc->pos += n;
	}
	if (sc->pos == start)
		return scan_fail(sc, SMTP_ADDR_EADDRESS, "bad domain");
	if (sc->s[start] == '-' || sc->s[sc->pos - 1] == '-')
		return scan_fail(sc, SMTP_ADDR_EADDRESS, "bad domain");
	if (sc->pos - start > DOMAIN_LABEL_MAX)
		return scan_fail(sc, SMTP_ADDR_ETOOLONG,
		    "domain label too long");
	return SMTP_ADDR_OK;
}

/* address-literal: [IPv4] or [IPv6:addr]; general literals are refused. */
static int
scan_literal(struct scan *sc)
{
	char text[LITERAL_MAX + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t start = ++sc->pos, n;

	while (sc->pos < sc->len && sc->s[sc->pos] != ']') {
		if (is_ctl((unsigned char)sc->s[sc->pos]) ||
		    sc->pos - start >= LITERAL_MAX)
			return scan_fail(sc, SMTP_ADDR_EADDRESS,
			    "bad address literal");
		sc->pos++;
	}
	if (sc->pos >= sc->len)
		return scan_fail(sc, SMTP_ADDR_EADDRESS, "bad address literal");
	n = sc->pos - start;
	memcpy(text, sc->s + start, n);
	text[n] = '\0';
	sc->pos++;			/* the ']' */
	if (inet_pton(AF_INET, text, bin) == 1)
		return SMTP_ADDR_OK;
	if (n > 5 && strncasecmp(text, "IPv6:", 5) == 0 &&
	    inet_pton(AF_INET6, text + 5, bin) == 1)
		return SMTP_ADDR_OK;
	sc->pos = start;
	return scan_fail(sc, SMTP_ADDR_EADDRESS, "bad address literal");
}

/* Domain = sub-domain *("." sub-domain) / address-literal. */
static int
scan_domain(struct scan *sc, int *literal)
{
	size_t start = sc->pos;
	int rc;

	*literal = 0;
	if (sc->pos < sc->len && sc->s[sc->pos] == '[') {
		*literal = 1;
		return scan_literal(sc);
	}
	for (;;) {
		if ((rc = scan_label(sc)) != SMTP_ADDR_OK)
			return rc;
		if (sc->pos - start > SMTP_DOMAIN_MAX)
			return scan_fail(sc, SMTP_ADDR_ETOOLONG,
			    "domain too long");
		if (sc->pos >= sc->len || sc->s[sc->pos] != '.')
			return SMTP_ADDR_OK;
		sc->pos++;
		/* "user@example.com." as Postfix takes it: the dot goes later. */
		if (sc->pos < sc->len && sc->s[sc->pos] == '>')
			return SMTP_ADDR_OK;
	}
}

/* A-d-l = At-domain *("," At-domain) ":"; accepted and ignored (4.1.2). */
static int
scan_route(struct scan *sc)
{
	int literal, rc;

	for (;;) {
		sc->pos++;		/* the '@' */
		if ((rc = scan_domain(sc, &literal)) != SMTP_ADDR_OK)
			return rc;
		if (sc->pos < sc->len && sc->s[sc->pos] == ':') {
			sc->pos++;
			return SMTP_ADDR_OK;
		}
		if (sc->pos + 1 >= sc->len || sc->s[sc->pos] != ',' ||
		    sc->s[sc->pos + 1] != '@')
			return scan_fail(sc, SMTP_ADDR_EADDRESS,
			    "bad source route");
		sc->pos++;
	}
}

int
smtp_addr_needs_quote(const char *local, size_t len, int utf8)
{
	struct scan sc = { local, len, 0, utf8, NULL };

	if (scan_dot_string(&sc) != SMTP_ADDR_OK)
		return 1;
	return sc.pos != len;
}

/* store_local: keep the content bare if it is a dot-string, else re-quote. */
static int
store_local(struct smtp_path *path, const char *content, size_t len, int utf8)
{
	size_t i, o = 0;

	if (!smtp_addr_needs_quote(content, len, utf8)) {
		if (len > SMTP_LOCAL_MAX)
			return -1;
		memcpy(path->local, content, len);
		path->local[len] = '\0';
		return 0;
	}
	path->local[o++] = '"';
	for (i = 0; i < len; i++) {
		if (o + 3 > sizeof(path->local))
			return -1;
		if (content[i] == '"' || content[i] == '\\')
			path->local[o++] = '\\';
		path->local[o++] = content[i];
	}
	if (o + 2 > sizeof(path->local))
		return -1;
	path->local[o++] = '"';
	path->local[o] = '\0';
	return 0;
}

static int
scan_local(struct scan *sc, struct smtp_path *path)
{
	char content[SMTP_LOCAL_MAX + 1];
	size_t start = sc->pos, clen;
	int rc;

	if (sc->pos < sc->len && sc->s[sc->pos] == '"')
		rc = scan_quoted(sc, content, &clen);
	else {
		rc = scan_dot_string(sc);
		clen = sc->pos - start;
		if (rc == SMTP_ADDR_OK && clen > SMTP_LOCAL_MAX)
			return scan_fail(sc, SMTP_ADDR_ETOOLONG,
			    "local part too long");
		if (rc == SMTP_ADDR_OK)
			memcpy(content, sc->s + start, clen);
	}
	if (rc != SMTP_ADDR_OK)
		return rc;
	if (sc->pos - start > SMTP_LOCAL_MAX)
		return scan_fail(sc, SMTP_ADDR_ETOOLONG, "local part too long");
	/* The stored form is never longer than the wire form. */
	if (store_local(path, content, clen, sc->utf8) == -1)
		return scan_fail(sc, SMTP_ADDR_ETOOLONG, "local part too long");
	return SMTP_ADDR_OK;
}

/*
 * "user@victim@us": not RFC 5321, but Postfix takes it as the local part
 * "user@victim" at "us" (quoted), so the relay check sees the real target.
 * lstart is where the local part began; sc->pos is at the second '@'.
 */
static int
scan_multi_at(struct scan *sc, size_t lstart, struct smtp_path *path)
{
	size_t end, lastat = 0, i;
	int rc;

	for (end = lstart; end < sc->len && sc->s[end] != '>'; end++) {
		if (sc->s[end] == '@')
			lastat = end;
		else if (!is_atext((unsigned char)sc->s[end]) &&
		    sc->s[end] != '.')
			return scan_fail(sc, SMTP_ADDR_EADDRESS,
			    "bad address syntax");
	}
	if (end >= sc->len || lastat == 0)
		return scan_fail(sc, SMTP_ADDR_EADDRESS, "bad address syntax");
	/* No empty atom next to a '.' or an inner '@'. */
	for (i = lstart; i < lastat; i++)
		if ((sc->s[i] == '.' || sc->s[i] == '@') && (i == lstart ||
		    i + 1 == lastat || sc->s[i + 1] == '.' ||
		    sc->s[i + 1] == '@'))
			return scan_fail(sc, SMTP_ADDR_EADDRESS,
			    "bad local part");
	if (lastat - lstart > SMTP_LOCAL_MAX - 2 ||
	    store_local(path, sc->s + lstart, lastat - lstart, 0) == -1)
		return scan_fail(sc, SMTP_ADDR_ETOOLONG, "local part too long");
	sc->pos = lastat + 1;
	if ((rc = scan_domain(sc, &path->domain_literal)) != SMTP_ADDR_OK)
		return rc;
	if (sc->pos - lastat - 1 > SMTP_DOMAIN_MAX)
		return scan_fail(sc, SMTP_ADDR_ETOOLONG, "domain too long");
	memcpy(path->domain, sc->s + lastat + 1, sc->pos - lastat - 1);
	path->domain[sc->pos - lastat - 1] = '\0';
	return SMTP_ADDR_OK;
}

int
smtp_path_parse(const char *text, size_t len, int flags,
    struct smtp_path *path, size_t *used, const char **reason)
{
	struct scan sc = { text, len, 0, (flags & SMTP_ADDR_UTF8) != 0, NULL };
	size_t dstart, lstart;
	int rc;

	memset(path, 0, sizeof(*path));
	*used = 0;
	*reason = NULL;
	if (len == 0 || text[0] != '<') {
		*reason = "missing angle brackets";
		return SMTP_ADDR_EADDRESS;
	}
	sc.pos = 1;
	if (len >= 2 && text[1] == '>') {
		if (!(flags & SMTP_ADDR_NULL_OK)) {
			*reason = "null address not allowed here";
			return SMTP_ADDR_ENULL;
		}
		path->null = 1;
		*used = 2;
		return SMTP_ADDR_OK;
	}
	if (sc.pos < len && text[sc.pos] == '@' &&
	    (rc = scan_route(&sc)) != SMTP_ADDR_OK)
		goto fail;
	lstart = sc.pos;
	if ((rc = scan_local(&sc, path)) != SMTP_ADDR_OK)
		goto fail;
	if (sc.pos < len && text[sc.pos] == '@') {
		dstart = ++sc.pos;
		rc = scan_domain(&sc, &path->domain_literal);
		if (rc != SMTP_ADDR_OK)
			goto fail;
		memcpy(path->domain, text + dstart, sc.pos - dstart);
		path->domain[sc.pos - dstart] = '\0';
		if (sc.pos < len && text[sc.pos] == '@' &&
		    text[lstart] != '"' && !path->domain_literal &&
		    (rc = scan_multi_at(&sc, lstart, path)) != SMTP_ADDR_OK)
			goto fail;
	} else if (!(flags & SMTP_ADDR_NODOMAIN_OK)) {
		rc = scan_fail(&sc, SMTP_ADDR_EADDRESS, "missing domain");
		goto fail;
	}
	if (sc.pos >= len || text[sc.pos] != '>') {
		rc = scan_fail(&sc, SMTP_ADDR_EADDRESS,
		    sc.pos >= len ? "missing closing angle bracket" :
		    "bad address syntax");
		goto fail;
	}
	if (++sc.pos > SMTP_PATH_MAX) {
		rc = SMTP_ADDR_ETOOLONG;
		sc.reason = "path too long";
		goto fail;
	}
	strlcpy(path->address, path->local, sizeof(path->address));
	if (path->domain[0] != '\0') {
		strlcat(path->address, "@", sizeof(path->address));
		if (strlcat(path->address, path->domain,
		    sizeof(path->address)) >= sizeof(path->address)) {
			rc = SMTP_ADDR_ETOOLONG;
			sc.reason = "path too long";
			goto fail;
		}
	}
	*used = sc.pos;
	return SMTP_ADDR_OK;
fail:
	*reason = sc.reason;
	memset(path, 0, sizeof(*path));
	return rc;
}

static int
store_param(struct smtp_params *params, size_t *textpos, const char *name,
    size_t namelen, const char *value, size_t valuelen)
{
	size_t need = namelen + 1 + (value ? valuelen + 1 : 0), i;
	char *p;

	if (need > sizeof(params->text) - *textpos)
		return -1;
	p = params->text + *textpos;
	for (i = 0; i < namelen; i++)
		p[i] = (name[i] >= 'a' && name[i] <= 'z') ?
		    (char)(name[i] - 'a' + 'A') : name[i];
	p[namelen] = '\0';
	params->param[params->count].name = p;
	params->param[params->count].value = NULL;
	if (value) {
		memcpy(p + namelen + 1, value, valuelen);
		p[namelen + 1 + valuelen] = '\0';
		params->param[params->count].value = p + namelen + 1;
	}
	*textpos += need;
	params->count++;
	return 0;
}

int
smtp_params_parse(const char *text, size_t len, struct smtp_params *params,
    const char **reason)
{
	size_t pos = 0, name, namelen, value, valuelen, textpos = 0, i;
	unsigned char c;

	params->count = 0;
	*reason = NULL;
	for (;;) {
		while (pos < len && (text[pos] == ' ' || text[pos] == '\t'))
			pos++;
		if (pos >= len)
			return SMTP_ADDR_OK;
		if (params->count == SMTP_PARAMS_MAX) {
			*reason = "too many parameters";
			return SMTP_ADDR_EPARAM;
		}
		/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
		for (name = pos; pos < len; pos++) {
			c = (unsigned char)text[pos];
			if (!is_alnum(c) && !(c == '-' && pos > name))
				break;
		}
		namelen = pos - name;
		value = valuelen = 0;
		if (namelen > 0 && pos < len && text[pos] == '=') {
			/* esmtp-value = 1*(%d33-126); '=' is tolerated */
			for (value = ++pos; pos < len; pos++) {
				c = (unsigned char)text[pos];
				if (c < 33 || c > 126)
					break;
			}
			valuelen = pos - value;
			if (valuelen == 0)
				namelen = 0;
		}
		if (namelen == 0 || (pos < len && text[pos] != ' ' &&
		    text[pos] != '\t')) {
			*reason = "bad parameter syntax";
			return SMTP_ADDR_EPARAM;
		}
		for (i = 0; i < params->count; i++) {
			if (strlen(params->param[i].name) == namelen &&
			    strncasecmp(params->param[i].name, text + name,
			    namelen) == 0) {
				*reason = "duplicate parameter";
				return SMTP_ADDR_EPARAM;
			}
		}
		if (store_param(params, &textpos, text + name, namelen,
		    value ? text + value : NULL, valuelen) == -1) {
			*reason = "parameter list too long";
			return SMTP_ADDR_EPARAM;
		}
	}
}

const char *
smtp_params_get(const struct smtp_params *params, const char *name,
    int *present)
{
	size_t i;

	for (i = 0; i < params->count; i++) {
		if (strcasecmp(params->param[i].name, name) == 0) {
			if (present)
				*present = 1;
			return params->param[i].value;
		}
	}
	if (present)
		*present = 0;
	return NULL;
}

int
smtp_path_args_parse(const char *text, size_t len, const char *keyword,
    int flags, struct smtp_path_args *args)
{
	size_t klen = strlen(keyword), pos, used, i;
	const char *reason;
	int rc;

	memset(args, 0, sizeof(*args));
	for (i = 0; i < len; i++) {
		if (is_ctl((unsigned char)text[i]) && text[i] != '\t') {
			args->error = SMTP_ADDR_EADDRESS;
			args->reason = "control character in command";
			return -1;
		}
	}
	if (len < klen + 1 || strncasecmp(text, keyword, klen) != 0 ||
	    text[klen] != ':') {
		args->error = SMTP_ADDR_ESYNTAX;
		args->reason = "missing keyword and colon";
		return -1;
	}
	pos = klen + 1;
	while (pos < len && (text[pos] == ' ' || text[pos] == '\t'))
		pos++;
	rc = smtp_path_parse(text + pos, len - pos, flags, &args->path, &used,
	    &reason);
	if (rc != SMTP_ADDR_OK)
		goto fail;
	pos += used;
	if (pos < len && text[pos] != ' ' && text[pos] != '\t') {
		rc = SMTP_ADDR_EADDRESS;
		reason = "garbage after address";
		goto fail;
	}
	rc = smtp_params_parse(text + pos, len - pos, &args->params, &reason);
	if (rc != SMTP_ADDR_OK)
		goto fail;
	return 0;
fail:
	args->error = rc;
	args->reason = reason ? reason : "bad address syntax";
	return -1;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
smtp_xtext_decode(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	unsigned char c;
	int hi, lo;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c == '+') {
			if ((hi = hexval((unsigned char)in[1])) < 0 ||
			    (lo = hexval((unsigned char)in[2])) < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			in += 2;
			if (is_ctl(c))
				return -1;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int
smtp_xtext_encode(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	unsigned char c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c >= 33 && c <= 126 && c != '+' && c != '=') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 >= outlen)
			return -1;
		out[o++] = '+';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

const char *
smtp_addr_status(enum smtp_addr_error error, int sender)
{
	switch (error) {
	case SMTP_ADDR_OK:
		return sender ? "2.1.0" : "2.1.5";
	case SMTP_ADDR_ESYNTAX:
	case SMTP_ADDR_EPARAM:
		return "5.5.4";
	default:
		return sender ? "5.1.7" : "5.1.3";
	}
}
