/*
 * smtp_addr: the path and ESMTP parameters of "MAIL FROM:<...> params" and
 * "RCPT TO:<...> params" (RFC 5321 4.1.2, 4.5.3.1; RFC 3461 xtext).
 * A pure parser: bytes in, a fixed-size struct out; no I/O, no allocation.
 * Security: every length is checked before anything is copied; CR, LF, NUL
 * and other control characters are refused, also after xtext decoding.
 */
#ifndef POSTILION_SMTP_ADDR_H
#define POSTILION_SMTP_ADDR_H

#include <stddef.h>

#define SMTP_LOCAL_MAX		64	/* octets of a local part */
#define SMTP_DOMAIN_MAX		255	/* octets of a domain */
#define SMTP_PATH_MAX		256	/* "<...>" including the brackets */
#define SMTP_ADDRESS_MAX	(SMTP_PATH_MAX - 2)
#define SMTP_PARAMS_MAX		16	/* parameters on one command */
#define SMTP_PARAMS_TEXT_MAX	2048	/* their total text */

/* Flags for smtp_path_args_parse and smtp_path_parse. */
#define SMTP_ADDR_NULL_OK	0x01	/* <> is allowed (MAIL FROM) */
#define SMTP_ADDR_NODOMAIN_OK	0x02	/* <user> without @domain is allowed */
#define SMTP_ADDR_UTF8		0x04	/* RFC 6531 UTF-8 in the address */

enum smtp_addr_error {
	SMTP_ADDR_OK = 0,
	SMTP_ADDR_ESYNTAX,	/* not "KEYWORD:<path>" at all */
	SMTP_ADDR_EADDRESS,	/* the path is malformed */
	SMTP_ADDR_ETOOLONG,	/* local part, domain or path over its limit */
	SMTP_ADDR_ENULL,	/* <> where it is not allowed */
	SMTP_ADDR_EPARAM	/* the parameter list is malformed */
};

struct smtp_path {
	int	 null;				/* <> */
	int	 domain_literal;		/* [1.2.3.4] or [IPv6:...] */
	/* local@domain (or local alone), "" for <>; quoted only if needed */
	char	 address[SMTP_ADDRESS_MAX + 1];
	char	 local[SMTP_LOCAL_MAX + 1];
	char	 domain[SMTP_DOMAIN_MAX + 1];	/* "" when none */
};

struct smtp_param {
	const char *name;	/* upper case */
	const char *value;	/* raw (still xtext), NULL for "NAME" alone */
};

struct smtp_params {
	size_t	 count;
	struct smtp_param param[SMTP_PARAMS_MAX];
	char	 text[SMTP_PARAMS_TEXT_MAX + 2];	/* name\0value\0... */
};

struct smtp_path_args {
	struct smtp_path path;
	struct smtp_params params;
	enum smtp_addr_error error;
	const char *reason;	/* static text saying what was wrong */
};

/*
 * smtp_path_args_parse: text is what follows the verb, e.g.
 * "FROM:<a@b> SIZE=10" with keyword "FROM". Whitespace after the colon is
 * tolerated, as Postfix does. 0, or -1 with error and reason set.
 */
int	smtp_path_args_parse(const char *text, size_t len, const char *keyword,
	    int flags, struct smtp_path_args *);
/*
 * smtp_path_parse: one "<...>" at the start of text; *used gets the bytes
 * consumed. 0, or an smtp_addr_error with *reason set.
 */
int	smtp_path_parse(const char *text, size_t len, int flags,
	    struct smtp_path *, size_t *used, const char **reason);
/* smtp_params_parse: "NAME[=value] ..." separated by spaces; 0 or error. */
int	smtp_params_parse(const char *text, size_t len, struct smtp_params *,
	    const char **reason);
/* smtp_params_get: the raw value of a parameter (case-insensitive name). */
const char *smtp_params_get(const struct smtp_params *, const char *name,
	    int *present);
/*
 * smtp_xtext_decode: RFC 3461 xtext into out (NUL-terminated); decoded
 * length, or -1 when malformed, too long, or decoding to a control char.
 */
int	smtp_xtext_decode(const char *in, char *out, size_t outlen);
/* smtp_xtext_encode: the reverse; length, or -1 when out is too small. */
int	smtp_xtext_encode(const char *in, char *out, size_t outlen);
/* smtp_addr_status: the enhanced status code for an error in MAIL/RCPT. */
const char *smtp_addr_status(enum smtp_addr_error, int sender);
/* smtp_addr_needs_quote: non-zero when a local part is not a dot-string. */
int	smtp_addr_needs_quote(const char *local, size_t len, int utf8);

#endif
