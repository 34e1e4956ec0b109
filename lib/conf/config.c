/*
 * config: main.cf storage, parsing and $-expansion. Entries live in an
 * array kept sorted by name (a few hundred at most; the defaults are
 * sorted once, each later name is inserted in place); an expanded value
 * is cached per entry and the whole cache is dropped on every config_set.
 * Every daemon builds this at each start, which max_use makes every 100
 * uses: sorting after each of the ~130 defaults, as this once did, was
 * about a tenth of a start's CPU.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "core/buf.h"
#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"

#define CONFIG_EXPAND_DEPTH	50
#define CONFIG_FILE_MAX		(4 * 1024 * 1024)

struct config_entry {
	char	*name;
	char	*raw;
	char	*expanded;	/* cache, NULL until asked for */
	int	 is_default;
};

struct config {
	struct config_entry *entries;
	size_t	 nentries;
	size_t	 nalloc;
	int	 cached;	/* some entry has an expanded value */
};

struct config_default {
	const char *name;
	const char *value;
};

/* Postfix's defaults where the name is Postfix's (REFERENCE.md). */
static const struct config_default config_defaults[] = {
	{ "2bounce_notice_recipient", "postmaster" },
	{ "alias_maps", "hash:/etc/aliases" },
	{ "anvil_rate_time_unit", "60s" },
	{ "bounce_queue_lifetime", "5d" },
	{ "bounce_size_limit", "50000" },
	{ "command_time_limit", "1000s" },
	{ "daemon_directory", DAEMON_DIR },
	{ "default_destination_concurrency_limit", "20" },
	{ "default_destination_recipient_limit", "50" },
	{ "default_privs", "nobody" },
	{ "default_process_limit", "100" },
	{ "delay_warning_time", "0h" },
	{ "header_size_limit", "102400" },
	{ "hopcount_limit", "50" },
	{ "imapd_auth_failure_delay", "2s" },
	{ "imapd_auth_failure_limit", "3" },
	{ "imapd_client_auth_failure_limit", "10" },
	{ "imapd_command_time_limit", "300s" },
	{ "imapd_hard_error_limit", "20" },
	{ "imapd_idle_timeout", "1800s" },
	{ "imapd_line_length_limit", "65536" },
	{ "imapd_literal_size_limit", "52428800" },
	{ "imapd_login_timeout", "60s" },
	{ "imapd_nesting_limit", "16" },
	{ "imapd_tls_auth_only", "yes" },
	{ "imapd_tls_cert_file", "" },
	{ "imapd_tls_key_file", "$imapd_tls_cert_file" },
	{ "imapd_tls_security_level", "may" },
	{ "imapd_tls_wrappermode", "no" },
	{ "inet_interfaces", "all" },
	{ "initial_destination_concurrency", "5" },
	{ "ipc_timeout", "3600s" },
	{ "line_length_limit", "2048" },
	{ "local_destination_concurrency_limit", "20" },	/* per transport: qmgr.c */
	{ "mail_name", "Postilion" },
	{ "mail_owner", "postilion" },
	{ "maillog_file", "" },
	{ "max_idle", "100s" },
	{ "max_use", "100" },
	{ "maximal_backoff_time", "4000s" },
	{ "maximal_queue_lifetime", "5d" },
	{ "message_size_limit", "10240000" },
	{ "minimal_backoff_time", "300s" },
	{ "mydestination", "$myhostname, localhost.$mydomain, localhost" },
	{ "mynetworks", "127.0.0.0/8 [::1]/128" },
	{ "myorigin", "$myhostname" },
	{ "pop3d_auth_failure_delay", "2s" },
	{ "pop3d_auth_failure_limit", "3" },
	{ "pop3d_client_auth_failure_limit", "10" },
	{ "pop3d_hard_error_limit", "20" },
	{ "pop3d_line_length_limit", "512" },
	{ "pop3d_timeout", "600s" },
	{ "pop3d_tls_auth_only", "yes" },
	{ "pop3d_tls_cert_file", "" },
	{ "pop3d_tls_key_file", "$pop3d_tls_cert_file" },
	{ "pop3d_tls_security_level", "may" },
	{ "pop3d_tls_wrappermode", "no" },
	{ "qmgr_message_active_limit", "20000" },
	{ "qmgr_remove_queue_limit", "10000" },
	{ "qmgr_remove_threads", "8" },
	{ "queue_directory", "/var/spool/postilion" },
	{ "queue_recycle_limit", "256" },
	{ "queue_run_delay", "300s" },
	{ "relay_domains", "" },
	{ "relayhost", "" },
	{ "service_throttle_time", "60s" },
	{ "setgid_group", "postdrop" },
	{ "smtp_connect_timeout", "30s" },
	{ "smtp_data_done_timeout", "600s" },
	{ "smtp_data_init_timeout", "120s" },
	{ "smtp_data_xfer_timeout", "180s" },
	{ "smtp_dns_servers", "" },
	{ "smtp_dns_timeout", "5s" },
	{ "smtp_helo_name", "$myhostname" },
	{ "smtp_helo_timeout", "300s" },
	{ "smtp_line_length_limit", "998" },
	{ "smtp_mail_timeout", "300s" },
	{ "smtp_mx_address_limit", "5" },
	{ "smtp_quit_timeout", "300s" },
	{ "smtp_rcpt_timeout", "300s" },
	{ "smtp_reply_lines_limit", "1000" },
	{ "smtp_sasl_auth_enable", "no" },
	{ "smtp_sasl_password_maps", "" },
	{ "smtp_tcp_port", "25" },
	{ "smtp_tls_security_level", "may" },
	{ "smtpd_auth_failure_limit", "5" },
	{ "smtpd_banner", "$myhostname ESMTP $mail_name" },
	{ "smtpd_client_connection_count_limit", "50" },
	{ "smtpd_client_connection_rate_limit", "0" },
	{ "smtpd_client_event_limit_exceptions", "$mynetworks" },
	{ "smtpd_client_restrictions", "" },
	{ "smtpd_error_sleep_time", "1s" },
	{ "smtpd_forbid_bare_newline", "normalize" },
	{ "smtpd_forbid_bare_newline_exclusions", "$mynetworks" },
	{ "smtpd_forbid_unauth_pipelining", "no" },
	{ "smtpd_hard_error_limit", "20" },
	{ "smtpd_helo_restrictions", "" },
	{ "smtpd_junk_command_limit", "100" },
	{ "smtpd_recipient_limit", "1000" },
	{ "smtpd_recipient_restrictions", "" },
	{ "smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" },
	{ "smtpd_sasl_auth_enable", "no" },
	{ "smtpd_sasl_authenticated_header", "no" },
	{ "smtpd_sasl_hide_client", "no" },
	{ "smtpd_sender_login_maps", "" },
	{ "smtpd_sender_restrictions", "" },
	{ "smtpd_soft_error_limit", "10" },
	{ "smtpd_timeout", "300s" },
	{ "smtpd_tls_auth_only", "yes" },
	{ "smtpd_tls_cert_file", "" },
	{ "smtpd_tls_key_file", "$smtpd_tls_cert_file" },
	{ "smtpd_tls_mandatory_protocols", ">=TLSv1.2" },
	{ "smtpd_tls_protocols", ">=TLSv1.2" },
	{ "smtpd_tls_security_level", "none" },
	{ "smtpd_tls_wrappermode", "no" },
	{ "smtputf8_enable", "yes" },
	{ "syslog_name", "postilion" },
	{ "transport_maps", "" },
	{ "transport_retry_time", "60s" },
	{ "virtual_alias_expansion_limit", "1000" },
	{ "virtual_alias_maps", "" },
	{ "virtual_alias_recursion_limit", "1000" },
	{ "virtual_gid_maps", "" },
	{ "virtual_mailbox_base", "/var/mail/vhosts" },
	{ "virtual_mailbox_domains", "" },
	{ "virtual_mailbox_limit", "51200000" },
	{ "virtual_mailbox_maps", "" },
	{ "virtual_mailbox_owner", "vmail" },
	{ "virtual_mailbox_quota", "0" },
	{ "virtual_overquota_bounce", "no" },
	{ "virtual_password_maps", "hash:$config_directory/passwd" },
	{ "virtual_uid_maps", "" },
};

static struct config_entry *config_find(struct config *, const char *);
static void config_define(struct config *, const char *, const char *, int);
static void config_expand_into(struct config *, const char *, struct buf *,
    int);
static void config_flush_cache(struct config *);
static int config_compare(const void *, const void *);
static size_t config_position(struct config *, const char *, int *);

struct config *
config_new(const char *confdir)
{
	struct config *cfg;
	char host[256], *dot;
	size_t i;

	cfg = xcalloc(1, sizeof(*cfg));
	cfg->nalloc = sizeof(config_defaults) / sizeof(config_defaults[0]) + 64;
	cfg->entries = xreallocarray(NULL, cfg->nalloc, sizeof(*cfg->entries));
	for (i = 0; i < sizeof(config_defaults) / sizeof(config_defaults[0]);
	    i++) {
		cfg->entries[i].name = xstrdup(config_defaults[i].name);
		cfg->entries[i].raw = xstrdup(config_defaults[i].value);
		cfg->entries[i].expanded = NULL;
		cfg->entries[i].is_default = 1;
	}
	cfg->nentries = i;
	qsort(cfg->entries, cfg->nentries, sizeof(*cfg->entries),
	    config_compare);
	for (i = 1; i < cfg->nentries; i++)
		if (strcmp(cfg->entries[i - 1].name, cfg->entries[i].name) == 0)
			fatalx("config: default %s is defined twice",
			    cfg->entries[i].name);
	config_define(cfg, "config_directory", confdir ? confdir : SYSCONFDIR, 1);
	if (gethostname(host, sizeof(host)) != 0)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	config_define(cfg, "myhostname", host, 1);
	dot = strchr(host, '.');
	config_define(cfg, "mydomain", dot && dot[1] ? dot + 1 : "localdomain", 1);
	return cfg;
}

struct config *
config_load(const char *confdir, char *err, size_t errlen)
{
	struct config *cfg;
	char *path, *text;

	cfg = config_new(confdir);
	path = xasprintf("%s/main.cf", confdir);
	if ((text = read_file(path, NULL, CONFIG_FILE_MAX)) == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		free(path);
		config_free(cfg);
		return NULL;
	}
	if (config_parse(cfg, text, path, err, errlen) == -1) {
		free(text);
		free(path);
		config_free(cfg);
		return NULL;
	}
	free(text);
	free(path);
	return cfg;
}

static void
config_trim(char *s)
{
	size_t len = strlen(s);

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
}

static int
config_parse_logical(struct config *cfg, char *line, const char *filename,
    int lineno, char *err, size_t errlen)
{
	char *eq, *name, *value;
	const char *p;

	if ((eq = strchr(line, '=')) == NULL) {
		snprintf(err, errlen, "%s, line %d: missing '=' after "
		    "parameter name", filename, lineno);
		return -1;
	}
	*eq = '\0';
	name = line;
	config_trim(name);
	value = eq + 1;
	while (isspace((unsigned char)*value))
		value++;
	config_trim(value);
	if (*name == '\0') {
		snprintf(err, errlen, "%s, line %d: missing parameter name",
		    filename, lineno);
		return -1;
	}
	for (p = name; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
			snprintf(err, errlen, "%s, line %d: bad parameter "
			    "name \"%s\"", filename, lineno, name);
			return -1;
		}
	}
	config_set(cfg, name, value);
	return 0;
}

int
config_parse(struct config *cfg, const char *text, const char *filename,
    char *err, size_t errlen)
{
	struct buf logical;
	const char *p = text, *nl, *q;
	int lineno = 0, startline = 0, rc = 0;
	size_t len;

	buf_init(&logical);
	buf_reset(&logical);
	while (*p != '\0' && rc == 0) {
		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		/* Comments and blank lines are skipped, even inside a logical line. */
		for (q = p; q < p + len && isspace((unsigned char)*q); q++)
			;
		if (q == p + len || *q == '#')
			goto next;
		if (isspace((unsigned char)*p)) {
			if (logical.len == 0) {
				snprintf(err, errlen, "%s, line %d: "
				    "continuation line without a parameter",
				    filename, lineno);
				rc = -1;
				break;
			}
			buf_putc(&logical, ' ');
			buf_append(&logical, q, len - (size_t)(q - p));
		} else {
			if (logical.len > 0)
				rc = config_parse_logical(cfg, logical.data,
				    filename, startline, err, errlen);
			buf_reset(&logical);
			buf_append(&logical, p, len);
			startline = lineno;
		}
next:
		p = nl ? nl + 1 : p + len;
	}
	if (rc == 0 && logical.len > 0)
		rc = config_parse_logical(cfg, logical.data, filename, startline,
		    err, errlen);
	buf_free(&logical);
	return rc;
}

static int
config_compare(const void *a, const void *b)
{
	const struct config_entry *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Where name is (*found 1) or would go (*found 0) in the sorted array. */
static size_t
config_position(struct config *cfg, const char *name, int *found)
{
	size_t lo = 0, hi = cfg->nentries, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, cfg->entries[mid].name)) == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = 0;
	return lo;
}

static struct config_entry *
config_find(struct config *cfg, const char *name)
{
	size_t i;
	int found;

	i = config_position(cfg, name, &found);
	return found ? &cfg->entries[i] : NULL;
}

static void
config_define(struct config *cfg, const char *name, const char *value,
    int is_default)
{
	struct config_entry *e;
	size_t i;
	int found;

	config_flush_cache(cfg);
	i = config_position(cfg, name, &found);
	if (found) {
		e = &cfg->entries[i];
		free(e->raw);
		e->raw = xstrdup(value);
		e->is_default = is_default;
		return;
	}
	if (cfg->nentries == cfg->nalloc) {
		cfg->nalloc = cfg->nalloc ? cfg->nalloc * 2 : 64;
		cfg->entries = xreallocarray(cfg->entries, cfg->nalloc,
		    sizeof(*cfg->entries));
	}
	memmove(&cfg->entries[i + 1], &cfg->entries[i],
	    (cfg->nentries - i) * sizeof(*cfg->entries));
	cfg->nentries++;
	e = &cfg->entries[i];
	e->name = xstrdup(name);
	e->raw = xstrdup(value);
	e->expanded = NULL;
	e->is_default = is_default;
}

void
config_set(struct config *cfg, const char *name, const char *value)
{
	config_define(cfg, name, value, 0);
}

static void
config_flush_cache(struct config *cfg)
{
	size_t i;

	if (!cfg->cached)
		return;
	for (i = 0; i < cfg->nentries; i++) {
		free(cfg->entries[i].expanded);
		cfg->entries[i].expanded = NULL;
	}
	cfg->cached = 0;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nentries; i++) {
		free(cfg->entries[i].name);
		free(cfg->entries[i].raw);
		free(cfg->entries[i].expanded);
	}
	free(cfg->entries);
	free(cfg);
}

const char *
config_raw(struct config *cfg, const char *name)
{
	struct config_entry *e = config_find(cfg, name);

	return e ? e->raw : NULL;
}

int
config_is_set(struct config *cfg, const char *name)
{
	struct config_entry *e = config_find(cfg, name);

	return e != NULL && !e->is_default;
}

/* Expand one reference starting after '$'; returns bytes consumed. */
static size_t
config_expand_ref(struct config *cfg, const char *p, struct buf *out,
    int depth)
{
	const char *end, *name_end;
	struct config_entry *e;
	char name[128], op = '\0';
	size_t len, consumed;
	const char *value;
	char *alt = NULL;

	if (*p == '$') {
		buf_putc(out, '$');
		return 1;
	}
	if (*p == '{' || *p == '(') {
		char close = *p == '{' ? '}' : ')';
		int level = 1;

		for (end = p + 1; *end; end++) {
			if (*end == *p)
				level++;
			else if (*end == close && --level == 0)
				break;
		}
		if (*end == '\0') {		/* unterminated: literal */
			buf_putc(out, '$');
			return 0;
		}
		name_end = p + 1;
		while (name_end < end && (isalnum((unsigned char)*name_end) ||
		    *name_end == '_' || *name_end == '-'))
			name_end++;
		if (name_end < end && (*name_end == '?' || *name_end == ':')) {
			op = *name_end;
			alt = xstrndup(name_end + 1, (size_t)(end - name_end - 1));
		}
		len = (size_t)(name_end - (p + 1));
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p + 1, len);
		name[len] = '\0';
		consumed = (size_t)(end - p) + 1;
	} else {
		name_end = p;
		while (isalnum((unsigned char)*name_end) || *name_end == '_')
			name_end++;
		len = (size_t)(name_end - p);
		if (len == 0) {
			buf_putc(out, '$');
			return 0;
		}
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, p, len);
		name[len] = '\0';
		consumed = (size_t)(name_end - p);
	}
	e = config_find(cfg, name);
	value = e ? e->raw : "";
	if (op == '?') {
		if (*value)
			config_expand_into(cfg, alt, out, depth + 1);
	} else if (op == ':') {
		if (*value == '\0')
			config_expand_into(cfg, alt, out, depth + 1);
		else
			config_expand_into(cfg, value, out, depth + 1);
	} else {
		config_expand_into(cfg, value, out, depth + 1);
	}
	free(alt);
	return consumed;
}

static void
config_expand_into(struct config *cfg, const char *s, struct buf *out,
    int depth)
{
	if (depth > CONFIG_EXPAND_DEPTH) {
		log_warnx("config: parameter expansion too deep (recursion?)");
		return;
	}
	while (*s) {
		if (*s == '$') {
			s++;
			s += config_expand_ref(cfg, s, out, depth);
		} else {
			buf_putc(out, *s++);
		}
	}
}

char *
config_expand(struct config *cfg, const char *s)
{
	struct buf out;

	buf_init(&out);
	buf_reset(&out);
	buf_puts(&out, "");
	config_expand_into(cfg, s, &out, 0);
	return out.data;
}

const char *
config_get(struct config *cfg, const char *name)
{
	struct config_entry *e = config_find(cfg, name);

	if (e == NULL)
		return "";
	if (e->expanded == NULL) {
		e->expanded = config_expand(cfg, e->raw);
		cfg->cached = 1;
	}
	return e->expanded;
}

long long
config_get_int(struct config *cfg, const char *name)
{
	const char *errstr;
	long long n;

	n = strtonum(config_get(cfg, name), -1, 1LL << 60, &errstr);
	if (errstr != NULL)
		fatalx("config: bad numerical parameter value: %s = %s",
		    name, config_get(cfg, name));
	return n;
}

/* <transport>_NAME when set, else default_NAME (Postfix's per-transport rule). */
long long
config_get_transport_int(struct config *cfg, const char *transport,
    const char *suffix)
{
	char name[128];

	snprintf(name, sizeof(name), "%s_%s", transport, suffix);
	if (config_raw(cfg, name) == NULL)
		snprintf(name, sizeof(name), "default_%s", suffix);
	return config_get_int(cfg, name);
}

long long
config_parse_time(const char *s, const char **errstr)
{
	char num[32], *end;
	long long n, mult = 1;
	size_t len = strlen(s);

	*errstr = NULL;
	if (len == 0 || len >= sizeof(num)) {
		*errstr = "bad time value";
		return 0;
	}
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 's': mult = 1; num[--len] = '\0'; break;
	case 'm': mult = 60; num[--len] = '\0'; break;
	case 'h': mult = 3600; num[--len] = '\0'; break;
	case 'd': mult = 86400; num[--len] = '\0'; break;
	case 'w': mult = 604800; num[--len] = '\0'; break;
	}
	errno = 0;
	n = strtoll(num, &end, 10);
	if (len == 0 || *end != '\0' || errno || n < 0 || n > (1LL << 40)) {
		*errstr = "bad time value";
		return 0;
	}
	return n * mult;
}

long long
config_get_time(struct config *cfg, const char *name)
{
	const char *errstr;
	long long n;

	n = config_parse_time(config_get(cfg, name), &errstr);
	if (errstr != NULL)
		fatalx("config: bad time parameter value: %s = %s", name,
		    config_get(cfg, name));
	return n;
}

int
config_get_bool(struct config *cfg, const char *name)
{
	const char *v = config_get(cfg, name);

	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcmp(v, "1") || !strcasecmp(v, "on"))
		return 1;
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
	    !strcmp(v, "0") || !strcasecmp(v, "off") || *v == '\0')
		return 0;
	fatalx("config: bad boolean parameter value: %s = %s", name, v);
}

const char *
config_name_at(struct config *cfg, size_t i, int *is_default)
{
	if (i >= cfg->nentries)
		return NULL;
	if (is_default)
		*is_default = cfg->entries[i].is_default;
	return cfg->entries[i].name;
}

char **
config_split(const char *s, size_t *np)
{
	return config_split_sep(s, ", \t\r\n", np);
}

char **
config_split_sep(const char *s, const char *seps, size_t *np)
{
	char **v = NULL;
	size_t n = 0, len;
	const char *start;

	for (;;) {
		while (*s && strchr(seps, *s) != NULL)
			s++;
		if (*s == '\0')
			break;
		start = s;
		/* A {...} group (inline: maps) stays one element. */
		for (int depth = 0; *s; s++) {
			if (*s == '{')
				depth++;
			else if (*s == '}' && depth > 0)
				depth--;
			else if (depth == 0 && strchr(seps, *s) != NULL)
				break;
		}
		len = (size_t)(s - start);
		v = xreallocarray(v, n + 2, sizeof(*v));
		v[n++] = xstrndup(start, len);
	}
	v = xreallocarray(v, n + 1, sizeof(*v));
	v[n] = NULL;
	if (np)
		*np = n;
	return v;
}

void
config_split_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}
