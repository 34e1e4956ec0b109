/*
 * smtpd_policy: the restriction lists, evaluated at RCPT time as Postfix
 * does with smtpd_delay_reject = yes: client, helo, sender, relay and
 * recipient lists in that order (the first permit or reject in a list
 * ends that list; a reject ends everything), then the implicit
 * reject_unlisted_recipient. Access maps answer OK, DUNNO, REJECT [text],
 * DEFER [text], DISCARD, HOLD or "4xx/5xx text" (access(5)).
 * Parameters: smtpd_{client,helo,sender,relay,recipient}_restrictions.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "smtpd/smtpd.h"

#define SMTPD_KEY_MAX	(SMTPD_ADDRESS_MAX * 2 + 2)
#define R_DUNNO		0
#define R_PERMIT	1
#define R_REJECT	2

struct smtpd_eval {
	struct smtpd_session *s;
	const struct smtpd_resolved *rcpt;
	const char *shown;		/* recipient as the client gave it */
	char	*reply;
	size_t	 replylen;
	int	 list;			/* enum smtpd_restriction_list */
};

static const char *smtpd_list_params[SMTPD_R_NLISTS] = {
	"smtpd_client_restrictions",
	"smtpd_helo_restrictions",
	"smtpd_sender_restrictions",
	"smtpd_relay_restrictions",
	"smtpd_recipient_restrictions",
};

static const char *smtpd_known[] = {
	"permit", "reject", "defer", "permit_mynetworks",
	"permit_sasl_authenticated", "reject_unauth_destination",
	"defer_unauth_destination", "permit_auth_destination",
	"check_client_access", "check_helo_access", "check_sender_access",
	"check_recipient_access", "reject_non_fqdn_sender",
	"reject_non_fqdn_recipient", "reject_non_fqdn_helo_hostname",
	"reject_unknown_sender_domain", "reject_unlisted_recipient",
	"reject_unlisted_sender", "reject_sender_login_mismatch", NULL
};

static void smtpd_list_load(struct smtpd_restrictions *, const char *,
    const char *);
static int smtpd_list_eval(struct smtpd_eval *,
    const struct smtpd_restrictions *);
static int smtpd_element(struct smtpd_eval *, const struct smtpd_restriction *);
static int smtpd_access(struct smtpd_eval *, const struct smtpd_restriction *);
static int smtpd_access_keys(const char *, char keys[][SMTPD_KEY_MAX], int);
static int smtpd_client_keys(struct smtpd_session *, char keys[][
    SMTPD_KEY_MAX]);
static int smtpd_access_action(struct smtpd_eval *, const char *,
    const char *, const char *, const char *);
static int smtpd_reject(struct smtpd_eval *, const char *, const char *,
    const char *, const char *, const char *);
static int smtpd_fqdn(const char *);
static int smtpd_domain_exists(const char *);
static const char *smtpd_domain_of(const char *);

#define SMTPD_NKEYS	16

void
smtpd_restrictions_load(struct smtpd_conf *conf)
{
	int i;

	for (i = 0; i < SMTPD_R_NLISTS; i++)
		smtpd_list_load(&conf->restrictions[i], smtpd_list_params[i],
		    config_get(conf->cfg, smtpd_list_params[i]));
}

static void
smtpd_list_load(struct smtpd_restrictions *r, const char *param,
    const char *text)
{
	struct smtpd_restriction *e;
	char **words, err[512];
	size_t n, i, k;

	r->param = param;
	words = config_split(text, &n);
	r->list = xcalloc(n + 1, sizeof(*r->list));
	for (i = 0; i < n; i++) {
		for (k = 0; smtpd_known[k] != NULL; k++)
			if (strcasecmp(smtpd_known[k], words[i]) == 0)
				break;
		if (smtpd_known[k] == NULL)
			fatalx("%s: unknown restriction: %s", param, words[i]);
		e = &r->list[r->count++];
		e->name = xstrdup(smtpd_known[k]);
		if (strncmp(e->name, "check_", 6) != 0)
			continue;
		if (i + 1 >= n || strchr(words[i + 1], ':') == NULL)
			fatalx("%s: %s needs a type:table argument", param,
			    e->name);
		e->map_spec = xstrdup(words[++i]);
		if ((e->map = map_list_open(e->map_spec, err,
		    sizeof(err))) == NULL)
			fatalx("%s: %s", param, err);
	}
	config_split_free(words);
}

static const char *
smtpd_domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at ? at + 1 : "";
}

static int
smtpd_fqdn(const char *domain)
{
	return *domain == '[' || (strchr(domain, '.') != NULL &&
	    domain[strlen(domain) - 1] != '.');
}

/* 1: the domain has MX, A or AAAA records; 0: it has none; -1: tempfail. */
static int
smtpd_domain_exists(const char *domain)
{
	static const int types[] = { ns_t_mx, ns_t_a, ns_t_aaaa };
	unsigned char answer[NS_PACKETSZ];
	int i, tempfail = 0;

	if (*domain == '[')
		return 1;
	for (i = 0; i < 3; i++) {
		if (res_query(domain, ns_c_in, types[i], answer,
		    sizeof(answer)) >= 0)
			return 1;
		if (h_errno == HOST_NOT_FOUND)
			return 0;
		if (h_errno != NO_DATA)
			tempfail = 1;
	}
	return tempfail ? -1 : 0;
}

/* "CODE X.Y.Z <who>: What rejected: text" into the reply; R_REJECT. */
static int
smtpd_reject(struct smtpd_eval *ev, const char *code, const char *dsn,
    const char *who, const char *what, const char *text)
{
	snprintf(ev->reply, ev->replylen, "%s %s <%s>: %s rejected: %s", code,
	    dsn, who, what, text);
	return R_REJECT;
}

/*
 * smtpd_access_action: an access map's value for a key. what says which
 * thing was looked up ("Client host", "Sender address", ...).
 */
static int
smtpd_access_action(struct smtpd_eval *ev, const char *table,
    const char *value, const char *who, const char *what)
{
	char code[4], dsn[16];
	const char *text;
	size_t n;

	n = strcspn(value, " \t");
	text = value + n + strspn(value + n, " \t");
	if ((n == 2 && strncasecmp(value, "OK", 2) == 0) ||
	    strspn(value, "0123456789") == strlen(value))
		return R_PERMIT;
	if (n == 5 && strncasecmp(value, "DUNNO", 5) == 0)
		return R_DUNNO;
	if (n == 6 && strncasecmp(value, "REJECT", 6) == 0)
		return smtpd_reject(ev, "554", "5.7.1", who, what,
		    *text ? text : "Access denied");
	if (n == 5 && strncasecmp(value, "DEFER", 5) == 0)
		return smtpd_reject(ev, "450", "4.7.1", who, what,
		    *text ? text : "Access denied");
	if ((n == 7 && strncasecmp(value, "DISCARD", 7) == 0) ||
	    (n == 4 && strncasecmp(value, "HOLD", 4) == 0)) {
		if (*value == 'D' || *value == 'd')
			ev->s->discard = 1;
		else
			ev->s->hold = 1;
		log_info("%s: %s: RCPT from %s[%s]: <%s>: %s triggers %s "
		    "action%s%s; from=<%s> to=<%s> proto=%s helo=<%s>",
		    smtpd_queue_id(ev->s), ev->s->discard && (*value == 'D' ||
		    *value == 'd') ? "discard" : "hold", ev->s->client_name,
		    ev->s->client_addr, who, what, ev->s->discard &&
		    (*value == 'D' || *value == 'd') ? "DISCARD" : "HOLD",
		    *text ? ": " : "", text, ev->s->sender, ev->shown,
		    smtpd_protocol(ev->s), ev->s->helo);
		return *value == 'D' || *value == 'd' ? R_PERMIT : R_DUNNO;
	}
	if (n == 3 && (value[0] == '4' || value[0] == '5') &&
	    isdigit((unsigned char)value[1]) &&
	    isdigit((unsigned char)value[2])) {
		memcpy(code, value, 3);
		code[3] = '\0';
		n = strcspn(text, " \t");
		if (n >= 5 && n < sizeof(dsn) && text[0] == value[0] &&
		    text[1] == '.' && strspn(text, "0123456789.") == n) {
			memcpy(dsn, text, n);
			dsn[n] = '\0';
			text += n + strspn(text + n, " \t");
		} else
			snprintf(dsn, sizeof(dsn), "%c.7.1", value[0]);
		return smtpd_reject(ev, code, dsn, who, what,
		    *text ? text : "Access denied");
	}
	log_warnx("access table %s: unknown action: %s", table, value);
	snprintf(ev->reply, ev->replylen, "451 4.3.5 Server configuration "
	    "error");
	return R_REJECT;
}

/*
 * The lookup keys of an access table, in Postfix's order: a host name
 * then its parent domains; an address: full, domain, parents, "user@".
 */
static int
smtpd_access_keys(const char *name, char keys[][SMTPD_KEY_MAX], int addr)
{
	const char *at = addr ? strrchr(name, '@') : NULL, *d, *p;
	int n = 0;

	if (addr && *name == '\0') {
		strlcpy(keys[n++], "<>", SMTPD_KEY_MAX);
		return n;
	}
	strlcpy(keys[n++], name, SMTPD_KEY_MAX);
	d = at ? at + 1 : (addr ? "" : name);
	if (at)
		strlcpy(keys[n++], d, SMTPD_KEY_MAX);
	for (p = strchr(d, '.'); p != NULL && n + 2 < SMTPD_NKEYS;
	    p = strchr(p + 1, '.')) {
		strlcpy(keys[n++], p, SMTPD_KEY_MAX);		/* ".example.com" */
		strlcpy(keys[n++], p + 1, SMTPD_KEY_MAX);	/* "example.com" */
	}
	if (at && n < SMTPD_NKEYS) {
		snprintf(keys[n], SMTPD_KEY_MAX, "%.*s@", (int)(at - name),
		    name);
		n++;
	}
	return n;
}

/* The client's name and parents (when known), its IP, IPv4 prefixes. */
static int
smtpd_client_keys(struct smtpd_session *s, char keys[][SMTPD_KEY_MAX])
{
	char *p;
	int n = 0;

	if (strcmp(s->client_name, "unknown") != 0)
		n = smtpd_access_keys(s->client_name, keys, 0);
	strlcpy(keys[n++], s->client_addr, SMTPD_KEY_MAX);
	while (s->client_ip.family == AF_INET && n < SMTPD_NKEYS &&
	    (p = strrchr(keys[n - 1], '.')) != NULL) {
		strlcpy(keys[n], keys[n - 1], SMTPD_KEY_MAX);
		*strrchr(keys[n], '.') = '\0';
		n++;
	}
	return n;
}

static int
smtpd_access(struct smtpd_eval *ev, const struct smtpd_restriction *e)
{
	char keys[SMTPD_NKEYS][SMTPD_KEY_MAX];
	char who[SMTPD_HOST_MAX + NETADDR_STRLEN + 3];
	struct smtpd_session *s = ev->s;
	const char *what;
	struct buf value;
	int n, i, rc, sender, result = R_DUNNO;

	if (strcmp(e->name, "check_client_access") == 0) {
		what = "Client host";
		snprintf(who, sizeof(who), "%s[%s]", s->client_name,
		    s->client_addr);
		n = smtpd_client_keys(s, keys);
	} else if (strcmp(e->name, "check_helo_access") == 0) {
		if (*s->helo == '\0')
			return R_DUNNO;
		what = "Helo command";
		strlcpy(who, s->helo, sizeof(who));
		n = smtpd_access_keys(s->helo, keys, 0);
	} else {
		sender = strcmp(e->name, "check_sender_access") == 0;
		what = sender ? "Sender address" : "Recipient address";
		strlcpy(who, sender ? s->sender : ev->shown, sizeof(who));
		n = smtpd_access_keys(sender ? s->sender : ev->rcpt->address,
		    keys, 1);
	}
	buf_init(&value);
	for (i = 0; i < n && result == R_DUNNO; i++) {
		for (char *p = keys[i]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if ((rc = map_list_lookup(e->map, keys[i], &value)) == -1) {
			log_warnx("%s: %s lookup of %s failed", e->name,
			    e->map_spec, keys[i]);
			snprintf(ev->reply, ev->replylen, "451 4.3.0 <%s>: "
			    "Temporary lookup failure", who);
			result = R_REJECT;
		} else if (rc == 1) {
			result = smtpd_access_action(ev, e->map_spec,
			    value.data, who, what);
			if (strncasecmp(value.data, "DUNNO", 5) == 0)
				break;	/* stops the search, not the list */
		}
	}
	buf_free(&value);
	return result;
}

static int
smtpd_element(struct smtpd_eval *ev, const struct smtpd_restriction *e)
{
	struct smtpd_session *s = ev->s;
	const char *n = e->name, *d;
	int rc, ours;

	ours = ev->rcpt->class != SMTPD_CLASS_FOREIGN;
	if (strcmp(n, "permit") == 0)
		return R_PERMIT;
	if ((strcmp(n, "reject") == 0 || strcmp(n, "defer") == 0) &&
	    ev->list == SMTPD_R_CLIENT) {
		snprintf(ev->reply, ev->replylen, "%s <%s[%s]>: Client host "
		    "rejected: Access denied", *n == 'r' ? "554 5.7.1" :
		    "450 4.7.1", s->client_name, s->client_addr);
		return R_REJECT;
	}
	if (strcmp(n, "reject") == 0 || strcmp(n, "defer") == 0) {
		snprintf(ev->reply, ev->replylen, "%s <%s>: Recipient address "
		    "rejected: Access denied", *n == 'r' ? "554 5.7.1" :
		    "450 4.7.1", ev->shown);
		return R_REJECT;
	}
	if (strcmp(n, "permit_mynetworks") == 0)
		return s->trusted ? R_PERMIT : R_DUNNO;
	if (strcmp(n, "permit_sasl_authenticated") == 0)
		return s->sasl_method != NULL ? R_PERMIT : R_DUNNO;
	if (strcmp(n, "reject_unlisted_sender") == 0)
		return R_DUNNO;
	if (strcmp(n, "reject_sender_login_mismatch") == 0)
		return smtpd_sender_login(s, s->sender, ev->reply,
		    ev->replylen) == 0 ? R_DUNNO : R_REJECT;
	if (strcmp(n, "permit_auth_destination") == 0)
		return ours ? R_PERMIT : R_DUNNO;
	if (strcmp(n, "reject_unauth_destination") == 0 ||
	    strcmp(n, "defer_unauth_destination") == 0) {
		if (ours)
			return R_DUNNO;
		snprintf(ev->reply, ev->replylen, "%s <%s>: Relay access denied",
		    *n == 'r' ? "554 5.7.1" : "454 4.7.1", ev->shown);
		return R_REJECT;
	}
	if (strncmp(n, "check_", 6) == 0)
		return smtpd_access(ev, e);
	if (strcmp(n, "reject_non_fqdn_sender") == 0) {
		if (*s->sender == '\0' || smtpd_fqdn(smtpd_domain_of(s->sender)))
			return R_DUNNO;
		return smtpd_reject(ev, "504", "5.5.2", s->sender,
		    "Sender address", "need fully-qualified address");
	}
	if (strcmp(n, "reject_non_fqdn_recipient") == 0) {
		if (smtpd_fqdn(ev->rcpt->domain))
			return R_DUNNO;
		return smtpd_reject(ev, "504", "5.5.2", ev->shown,
		    "Recipient address", "need fully-qualified address");
	}
	if (strcmp(n, "reject_non_fqdn_helo_hostname") == 0) {
		if (*s->helo == '\0' || smtpd_fqdn(s->helo))
			return R_DUNNO;
		return smtpd_reject(ev, "504", "5.5.2", s->helo, "Helo command",
		    "need fully-qualified hostname");
	}
	if (strcmp(n, "reject_unknown_sender_domain") == 0) {
		if (*s->sender == '\0')
			return R_DUNNO;
		d = smtpd_domain_of(s->sender);
		if ((rc = smtpd_domain_exists(d)) == 1)
			return R_DUNNO;
		return smtpd_reject(ev, rc == 0 ? "450" : "451", rc == 0 ?
		    "4.1.8" : "4.4.0", s->sender, "Sender address", rc == 0 ?
		    "Domain not found" : "Domain lookup failed");
	}
	if (strcmp(n, "reject_unlisted_recipient") == 0) {
		rc = smtpd_recipient_known(s, ev->rcpt, ev->shown, ev->reply,
		    ev->replylen);
		if (rc == -1)
			snprintf(ev->reply, ev->replylen, "451 4.3.0 <%s>: "
			    "Temporary lookup failure", ev->shown);
		return rc == 1 ? R_DUNNO : R_REJECT;
	}
	fatalx("smtpd_policy: unhandled restriction %s", n);
}

static int
smtpd_list_eval(struct smtpd_eval *ev, const struct smtpd_restrictions *r)
{
	size_t i;
	int rc;

	for (i = 0; i < r->count; i++)
		if ((rc = smtpd_element(ev, &r->list[i])) != R_DUNNO)
			return rc;
	return R_DUNNO;
}

int
smtpd_rcpt_policy(struct smtpd_session *s, const char *address,
    const char *shown, struct smtpd_resolved *r, char *reply, size_t replylen)
{
	struct smtpd_eval ev = { s, r, shown, reply, replylen, 0 };
	int i, rc;

	if (smtpd_resolve(s, address, r) == -1) {
		snprintf(reply, replylen, "451 4.3.0 <%s>: Temporary lookup "
		    "failure", shown);
		return SMTPD_REJECT;
	}
	for (i = 0; i < SMTPD_R_NLISTS; i++) {
		ev.list = i;
		if (smtpd_list_eval(&ev, &s->conf->restrictions[i]) ==
		    R_REJECT)
			return SMTPD_REJECT;
	}
	rc = smtpd_recipient_known(s, r, shown, reply, replylen);
	if (rc == -1)
		snprintf(reply, replylen, "451 4.3.0 <%s>: Temporary lookup "
		    "failure", shown);
	return rc == 1 ? SMTPD_ACCEPT : SMTPD_REJECT;
}
