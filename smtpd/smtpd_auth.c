/*
 * smtpd_auth: SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN
 * mechanisms, checked by lib/auth against virtual_password_maps, and the
 * sender ownership of reject_sender_login_mismatch.
 * Security: with smtpd_tls_auth_only (the default) nothing is offered or
 * accepted in the clear (538); passwords are wiped after use and never
 * logged; each failure costs smtpd_error_sleep_time, and
 * smtpd_auth_failure_limit failures from one IP within
 * anvil_rate_time_unit (in any of its sessions, smtpd_io.c's table) end
 * the session with 421 and refuse its further AUTH commands until the
 * window ends. Failures are logged in Postfix's shape, which fail2ban's
 * postfix filter matches.
 * Parameters: smtpd_sasl_auth_enable, smtpd_tls_auth_only,
 * virtual_password_maps, smtpd_auth_failure_limit, smtpd_error_sleep_time,
 * smtpd_sender_login_maps, smtpd_sasl_authenticated_header,
 * smtpd_sasl_hide_client.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "smtpd/smtpd.h"

/* A SASL response line: base64 of AUTH_SASL_MAX bytes and its CRLF. */
#define SMTPD_SASL_LINE_MAX	((AUTH_SASL_MAX + 2) / 3 * 4 + 2)
/* What a mechanism's exchange ended with. */
#define SMTPD_AUTH_BAD		2	/* malformed: a failed login */
#define SMTPD_AUTH_DONE		1	/* user and password to check */
#define SMTPD_AUTH_ABORTED	0	/* replied to already */
#define SMTPD_AUTH_GONE		-1	/* the client is gone */

/* An initial response (RFC 4954 4): "=" for an empty one. */
struct smtpd_sasl_initial {
	const char *data;	/* NULL: none given */
	size_t	 len;
};

static const char *smtpd_auth_refusal(struct smtpd_session *);
static int smtpd_auth_response(struct smtpd_session *, const char *,
    unsigned char *, size_t, size_t *);
static int smtpd_auth_initial(struct smtpd_session *,
    const struct smtpd_sasl_initial *, const char *, unsigned char *, size_t,
    size_t *);
static int smtpd_auth_plain(struct smtpd_session *,
    const struct smtpd_sasl_initial *, char *, char *);
static int smtpd_auth_login(struct smtpd_session *,
    const struct smtpd_sasl_initial *, char *, char *);
static int smtpd_auth_check(struct smtpd_session *, const char *,
    const char *, const char *);
static void smtpd_auth_failed(struct smtpd_session *, const char *);
static int smtpd_login_owns(const char *, const char *);
static void smtpd_auth_limited(struct smtpd_session *);

void
smtpd_auth_load(struct smtpd_conf *conf)
{
	const char *v;
	char err[512];

	conf->sasl_enable = config_get_bool(conf->cfg,
	    "smtpd_sasl_auth_enable");
	conf->tls_auth_only = config_get_bool(conf->cfg,
	    "smtpd_tls_auth_only");
	conf->sasl_header = config_get_bool(conf->cfg,
	    "smtpd_sasl_authenticated_header");
	conf->sasl_hide_client = config_get_bool(conf->cfg,
	    "smtpd_sasl_hide_client");
	conf->auth_table_fd = -1;
	conf->auth_failure_limit = config_get_int(conf->cfg,
	    "smtpd_auth_failure_limit");
	if (conf->auth_failure_limit < 0)
		fatalx("bad smtpd_auth_failure_limit value");
	v = config_get(conf->cfg, "smtpd_sender_login_maps");
	if (*v != '\0' && (conf->sender_login_maps = map_list_open(v, err,
	    sizeof(err))) == NULL)
		fatalx("smtpd_sender_login_maps: %s", err);
	/* Like alias_maps: a missing table defers logins, it is not fatal. */
	if ((conf->password_maps = map_list_open(config_get(conf->cfg,
	    "virtual_password_maps"), err, sizeof(err))) == NULL)
		strlcpy(conf->password_maps_error, err,
		    sizeof(conf->password_maps_error));
}

const char *
smtpd_auth_offered(struct smtpd_session *s)
{
	if (!s->conf->sasl_enable || (s->conf->tls_auth_only && !s->tls))
		return NULL;
	return "PLAIN LOGIN";
}

static const char *
smtpd_auth_refusal(struct smtpd_session *s)
{
	if (!s->conf->sasl_enable)
		return "503 5.5.1 Error: authentication not enabled";
	if (!s->esmtp)
		return "503 5.5.1 Error: send EHLO first";
	if (s->sasl_method != NULL)
		return "503 5.5.1 Error: already authenticated";
	if (s->in_mail)
		return "503 5.5.1 Error: MAIL transaction in progress";
	if (s->conf->tls_auth_only && !s->tls)
		return "538 5.7.11 Encryption required for requested "
		    "authentication mechanism";
	return NULL;
}

/*
 * smtpd_auth_response: send a 334 challenge (prompt: base64 text), read
 * the client's line and decode it. SMTPD_AUTH_DONE with the bytes,
 * SMTPD_AUTH_ABORTED after a reply (a "*" or bad base64), SMTPD_AUTH_GONE
 * when the client is.
 */
static int
smtpd_auth_response(struct smtpd_session *s, const char *prompt,
    unsigned char *out, size_t outmax, size_t *outlen)
{
	struct buf line;
	long n;
	int rc;

	smtpd_reply(s, "334 %s", prompt);
	if (smtpd_flush(s) == -1)
		return SMTPD_AUTH_GONE;
	smtpd_deadline_start(s);
	buf_init(&line);
	rc = iobuf_getline(&s->io, &line, SMTPD_SASL_LINE_MAX);
	if (rc != IO_LINE && rc != IO_TOOLONG) {
		buf_free(&line);
		smtpd_io_failed(s, rc);
		return SMTPD_AUTH_GONE;
	}
	if (rc == IO_TOOLONG) {
		buf_free(&line);
		smtpd_reply(s, "500 5.5.6 Authentication exchange line is too "
		    "long");
		return SMTPD_AUTH_ABORTED;
	}
	(void)line_chomp(&line);
	if (strcmp(line.data, "*") == 0) {
		buf_free(&line);
		smtpd_reply(s, "501 5.7.0 Authentication aborted");
		return SMTPD_AUTH_ABORTED;
	}
	n = base64_decode(line.data, line.len, out, outmax);
	explicit_bzero(line.data, line.len);
	buf_free(&line);
	if (n < 0) {
		smtpd_reply(s, "501 5.5.2 Cannot decode response");
		return SMTPD_AUTH_ABORTED;
	}
	*outlen = (size_t)n;
	return SMTPD_AUTH_DONE;
}

/* The initial response, or the answer to the first challenge (prompt). */
static int
smtpd_auth_initial(struct smtpd_session *s,
    const struct smtpd_sasl_initial *initial, const char *prompt,
    unsigned char *out, size_t outmax, size_t *outlen)
{
	long n;

	if (initial->data == NULL)
		return smtpd_auth_response(s, prompt, out, outmax, outlen);
	*outlen = 0;
	if (initial->len == 1 && initial->data[0] == '=')
		return SMTPD_AUTH_DONE;
	if ((n = base64_decode(initial->data, initial->len, out,
	    outmax)) < 0) {
		smtpd_reply(s, "501 5.5.2 Cannot decode response");
		return SMTPD_AUTH_ABORTED;
	}
	*outlen = (size_t)n;
	return SMTPD_AUTH_DONE;
}

/* PLAIN: one message, given up front or after an empty challenge. */
static int
smtpd_auth_plain(struct smtpd_session *s,
    const struct smtpd_sasl_initial *initial, char *user, char *pass)
{
	unsigned char msg[AUTH_SASL_MAX];
	size_t len;
	int rc;

	if ((rc = smtpd_auth_initial(s, initial, "", msg, sizeof(msg),
	    &len)) != SMTPD_AUTH_DONE)
		return rc;
	rc = sasl_plain_parse(msg, len, user, pass);
	explicit_bzero(msg, sizeof(msg));
	return rc == 0 ? SMTPD_AUTH_DONE : SMTPD_AUTH_BAD;
}

/* LOGIN: "Username:" (unless given up front), then "Password:". */
static int
smtpd_auth_login(struct smtpd_session *s,
    const struct smtpd_sasl_initial *initial, char *user, char *pass)
{
	unsigned char msg[AUTH_SASL_MAX];
	size_t len, i;
	int rc;

	if ((rc = smtpd_auth_initial(s, initial, "VXNlcm5hbWU6", msg,
	    sizeof(msg), &len)) != SMTPD_AUTH_DONE)
		return rc;
	if (len > AUTH_USER_MAX || memchr(msg, '\0', len) != NULL)
		return SMTPD_AUTH_BAD;
	for (i = 0; i < len; i++)
		user[i] = (char)tolower(msg[i]);
	user[len] = '\0';
	rc = smtpd_auth_response(s, "UGFzc3dvcmQ6", msg, sizeof(msg), &len);
	if (rc != SMTPD_AUTH_DONE)
		return rc;
	if (len > AUTH_PASS_MAX || memchr(msg, '\0', len) != NULL)
		rc = SMTPD_AUTH_BAD;
	else {
		memcpy(pass, msg, len);
		pass[len] = '\0';
	}
	explicit_bzero(msg, sizeof(msg));
	return rc;
}

/* smtpd_auth_limited: 421 and hang up; the IP failed too often. */
static void
smtpd_auth_limited(struct smtpd_session *s)
{
	log_warnx("%s[%s]: too many failed SASL authentication attempts",
	    s->client_name, s->client_addr);
	smtpd_reply(s, "421 4.7.0 %s Error: too many failed authentication "
	    "attempts", s->conf->myhostname);
	s->quit = 1;
}

/* smtpd_auth_failed: log, slow down, count; the limit ends the session. */
static void
smtpd_auth_failed(struct smtpd_session *s, const char *mech)
{
	long long ip_failures;

	log_warnx("%s[%s]: SASL %s authentication failed: authentication "
	    "failure", s->client_name, s->client_addr, mech);
	if (s->conf->error_sleep_time > 0) {
		(void)smtpd_flush(s);
		sleep((unsigned int)s->conf->error_sleep_time);
	}
	s->auth_failures++;
	ip_failures = smtpd_auth_failures(s, 1);
	if (s->conf->auth_failure_limit > 0 &&
	    (s->auth_failures >= s->conf->auth_failure_limit ||
	    ip_failures >= s->conf->auth_failure_limit)) {
		smtpd_auth_limited(s);
		return;
	}
	smtpd_reply(s, "535 5.7.8 Error: authentication failed: "
	    "authentication failure");
}

/* The verdict on user/pass; 0 logged in, -1 refused (reply set). */
static int
smtpd_auth_check(struct smtpd_session *s, const char *mech, const char *user,
    const char *pass)
{
	int rc;

	if (s->conf->password_maps == NULL) {
		log_warnx("virtual_password_maps: %s",
		    s->conf->password_maps_error);
		rc = AUTH_TEMPFAIL;
	} else
		rc = auth_verify(s->conf->password_maps, user, pass);
	if (rc == AUTH_OK) {
		strlcpy(s->sasl_user, user, sizeof(s->sasl_user));
		s->sasl_method = mech;
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		return 0;
	}
	if (rc == AUTH_TEMPFAIL) {
		log_warnx("%s[%s]: SASL %s authentication failed: temporary "
		    "failure reading virtual_password_maps", s->client_name,
		    s->client_addr, mech);
		smtpd_reply(s, "454 4.7.0 Temporary authentication failure");
		return -1;
	}
	smtpd_auth_failed(s, mech);
	return -1;
}

int
smtpd_auth(struct smtpd_session *s, const char *args, size_t len)
{
	char mech[16], user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	struct smtpd_sasl_initial initial = { NULL, 0 };
	const char *refusal, *name;
	size_t n, i;
	int rc;

	if ((refusal = smtpd_auth_refusal(s)) != NULL) {
		smtpd_reply(s, "%s", refusal);
		return -1;
	}
	if (s->conf->auth_failure_limit > 0 && smtpd_auth_failures(s, 0) >=
	    s->conf->auth_failure_limit) {
		smtpd_auth_limited(s);
		return -1;
	}
	/* args is not NUL-terminated at len (trailing blanks are cut). */
	for (n = 0; n < len && args[n] != ' ' && args[n] != '\t'; n++)
		;
	if (n == 0 || n >= sizeof(mech)) {
		smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return -1;
	}
	for (i = 0; i < n; i++)
		mech[i] = (char)toupper((unsigned char)args[i]);
	mech[n] = '\0';
	if (strcmp(mech, "PLAIN") == 0)
		name = "PLAIN";
	else if (strcmp(mech, "LOGIN") == 0)
		name = "LOGIN";
	else {
		smtpd_reply(s, "504 5.5.4 Unsupported authentication "
		    "mechanism");
		return -1;
	}
	for (i = n; i < len && (args[i] == ' ' || args[i] == '\t'); i++)
		;
	if (i < len) {
		initial.data = args + i;
		initial.len = len - i;
	}
	user[0] = pass[0] = '\0';
	rc = *name == 'P' ? smtpd_auth_plain(s, &initial, user, pass) :
	    smtpd_auth_login(s, &initial, user, pass);
	if (rc == SMTPD_AUTH_DONE)
		rc = smtpd_auth_check(s, name, user, pass);
	else {
		if (rc == SMTPD_AUTH_BAD)
			smtpd_auth_failed(s, name);
		rc = -1;
	}
	explicit_bzero(pass, sizeof(pass));
	return rc;
}

/* login appears in the owner list value ("a@x, b@x" or "a@x b@x"). */
static int
smtpd_login_owns(const char *value, const char *login)
{
	size_t n, len = strlen(login);

	while (*value != '\0') {
		value += strspn(value, ", \t");
		n = strcspn(value, ", \t");
		if (n == len && n > 0 && strncasecmp(value, login, n) == 0)
			return 1;
		value += n;
	}
	return 0;
}

/*
 * Who owns sender: smtpd_sender_login_maps (the address, then @domain;
 * the value lists logins), else the login named like the address.
 */
int
smtpd_sender_login(struct smtpd_session *s, const char *sender, char *reply,
    size_t replylen)
{
	char key[SMTPD_ADDRESS_MAX + 1];
	struct buf value;
	const char *at;
	int rc = 0, owned;

	if (*sender == '\0')
		return 0;
	strlcpy(key, sender, sizeof(key));
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	buf_init(&value);
	if (s->conf->sender_login_maps != NULL) {
		rc = map_list_lookup(s->conf->sender_login_maps, key, &value);
		if (rc == 0 && (at = strrchr(key, '@')) != NULL)
			rc = map_list_lookup(s->conf->sender_login_maps, at,
			    &value);
		owned = rc == 1 && s->sasl_method != NULL &&
		    smtpd_login_owns(value.data, s->sasl_user);
	} else {
		/* An account of that name owns the address. */
		if (s->sasl_method == NULL && s->conf->password_maps != NULL)
			rc = map_list_lookup(s->conf->password_maps, key,
			    &value);
		else
			rc = s->sasl_method != NULL;
		owned = s->sasl_method != NULL &&
		    strcmp(key, s->sasl_user) == 0;
	}
	if (value.data != NULL)
		explicit_bzero(value.data, value.len);
	buf_free(&value);
	if (rc == -1) {
		snprintf(reply, replylen, "451 4.3.0 <%s>: Sender address "
		    "rejected: Temporary lookup failure", sender);
		return -1;
	}
	if (owned || (rc == 0 && s->sasl_method == NULL))
		return 0;
	if (s->sasl_method == NULL)
		snprintf(reply, replylen, "553 5.7.1 <%s>: Sender address "
		    "rejected: not logged in", sender);
	else
		snprintf(reply, replylen, "553 5.7.1 <%s>: Sender address "
		    "rejected: not owned by user %s", sender, s->sasl_user);
	return 1;
}
