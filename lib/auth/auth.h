/*
 * auth: what smtpd (AUTH), pop3d (USER/PASS, AUTH) and imapd (LOGIN,
 * AUTHENTICATE) share to log a user in: base64, the SASL PLAIN and LOGIN
 * mechanisms' messages, one account check against virtual_password_maps
 * (lib/map/passwd.c hashes, compared in constant time), and the per-client
 * failure penalty. Security: callers wipe passwords with explicit_bzero
 * after use; nothing here logs a password.
 */
#ifndef POSTILION_AUTH_H
#define POSTILION_AUTH_H

#include <stddef.h>

#include "map/map.h"

#define AUTH_USER_MAX	255		/* an address (RFC 5321: 254) */
#define AUTH_PASS_MAX	511		/* below PASSWD_MAX */
#define AUTH_SASL_MAX	2048		/* one decoded SASL message */

/* base64_decode: RFC 4648 with padding; decoded length or -1 if bad/too long. */
long	base64_decode(const char *in, size_t inlen, unsigned char *out,
	    size_t outmax);
/* base64_encode: NUL-terminated into out; length or -1 if out is short. */
long	base64_encode(const unsigned char *in, size_t inlen, char *out,
	    size_t outmax);

/*
 * sasl_plain_parse: split a decoded PLAIN message "authzid NUL authcid NUL
 * passwd" (RFC 4616). The authcid is folded to lower case. -1 when
 * malformed, a field is too long, or authzid is set and differs from
 * authcid (no proxy logins).
 */
int	sasl_plain_parse(const unsigned char *msg, size_t len,
	    char user[AUTH_USER_MAX + 1], char pass[AUTH_PASS_MAX + 1]);

/* Results of auth_verify. */
#define AUTH_OK		1
#define AUTH_FAIL	0		/* wrong password or no such user */
#define AUTH_TEMPFAIL	-1		/* the map could not be read */

/* auth_verify: check user/password against virtual_password_maps. */
int	auth_verify(struct map_list *password_maps, const char *user,
	    const char *password);

/*
 * Per-client-IP event counts shared by the processes of a daemon: a
 * bounded table of {IP, window start, count} in a file (auth_failures.c).
 * pop3d and imapd count failed logins in it; smtpd its connection rate and
 * failed AUTHs. auth_failures_open: open or
 * create it (0600) before the privilege drop; fd or -1 with errno.
 * auth_failures_count: ip's failures in the current window of window
 * seconds after adding add (0 or 1); 0 when fd is -1 or the table fails.
 */
#define AUTH_FAILURES_FILE	"private/login_auth_failures"
int	auth_failures_open(const char *path);
long long auth_failures_count(int fd, const char *ip, long long window,
	    int add);

#endif
