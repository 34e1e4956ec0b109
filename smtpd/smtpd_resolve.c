/*
 * smtpd_resolve: what a recipient is to us, decided on the address after
 * quoting, "user%domain", "domain!user" and "user@domain@us" are resolved
 * (as Postfix's trivial-rewrite does), so no open-relay probe form can
 * hide a foreign domain behind one of ours. Also: does the recipient exist
 * (mydestination: alias_maps or a local account; virtual domains:
 * virtual_mailbox_maps; any domain: virtual_alias_maps).
 * Parameters: mydestination, relay_domains, virtual_mailbox_domains,
 * virtual_mailbox_maps, virtual_alias_domains (names only; unset, a domain
 * is an alias domain when virtual_alias_maps knows the address or its
 * @domain), virtual_alias_maps, alias_maps.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "smtpd/smtpd.h"

#define SMTPD_RESOLVE_LOOPS	10

static void smtpd_dequote(const char *, char *, size_t);
static int smtpd_ours(struct smtpd_session *, const char *);
static int smtpd_split_local(char *, char *, size_t);
static int smtpd_lookup(struct map_list *, const char *, const char *);
static int smtpd_alias_lookup(struct smtpd_session *,
    const struct smtpd_resolved *);
static int smtpd_local_user(struct smtpd_session *, const char *);
static int smtpd_relay_domain(struct smtpd_session *, const char *);

int
smtpd_domain_in(char **list, size_t n, const char *domain)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], domain) == 0)
			return 1;
	return 0;
}

/* 1 yes, 0 no, -1 a table could not be read. */
int
smtpd_virtual_domain(struct smtpd_session *s, const char *domain)
{
	if (smtpd_domain_in(s->conf->virtual_domains,
	    s->conf->nvirtual_domains, domain))
		return 1;
	if (map_list_count(s->conf->virtual_domain_maps) == 0)
		return 0;
	return smtpd_lookup(s->conf->virtual_domain_maps, domain,
	    "virtual_mailbox_domains");
}

static int
smtpd_lookup(struct map_list *maps, const char *key, const char *what)
{
	struct buf value;
	int rc;

	if (maps == NULL || map_list_count(maps) == 0)
		return 0;
	buf_init(&value);
	rc = map_list_lookup(maps, key, &value);
	buf_free(&value);
	if (rc == -1)
		log_warnx("%s: lookup of %s failed", what, key);
	return rc;
}

/* The local part without its quotes and backslashes. */
static void
smtpd_dequote(const char *local, char *out, size_t outlen)
{
	size_t o = 0;
	int quoted = 0;

	for (; *local != '\0' && o + 1 < outlen; local++) {
		if (*local == '"') {
			quoted = !quoted;
			continue;
		}
		if (*local == '\\' && quoted && local[1] != '\0')
			local++;
		out[o++] = *local;
	}
	out[o] = '\0';
}

/* Any domain we take mail for (not relay_domains). */
static int
smtpd_ours(struct smtpd_session *s, const char *domain)
{
	if (*domain == '\0')
		return 1;
	if (smtpd_domain_in(s->conf->mydestination, s->conf->nmydestination,
	    domain))
		return 1;
	return smtpd_virtual_domain(s, domain) == 1;
}

/*
 * smtpd_split_local: a routing operator inside a local part: the last '@'
 * or '%' ("user%victim"), else the first '!' ("victim!user"). Moves the
 * domain part into domain; 1 when something was split.
 */
static int
smtpd_split_local(char *local, char *domain, size_t dlen)
{
	char *p;

	if ((p = strrchr(local, '@')) != NULL || (p = strrchr(local, '%')) !=
	    NULL) {
		strlcpy(domain, p + 1, dlen);
		*p = '\0';
		return 1;
	}
	if ((p = strchr(local, '!')) != NULL) {
		*p = '\0';
		strlcpy(domain, local, dlen);
		memmove(local, p + 1, strlen(p + 1) + 1);
		return 1;
	}
	return 0;
}

int
smtpd_resolve(struct smtpd_session *s, const char *address,
    struct smtpd_resolved *r)
{
	const char *at = strrchr(address, '@');
	char local[SMTPD_ADDRESS_MAX + 1];
	size_t n;
	int loops, rc;

	memset(r, 0, sizeof(*r));
	n = at ? (size_t)(at - address) : strlen(address);
	if (n >= sizeof(local))
		n = sizeof(local) - 1;
	memcpy(local, address, n);
	local[n] = '\0';
	smtpd_dequote(local, r->local, sizeof(r->local));
	strlcpy(r->domain, at ? at + 1 : "", sizeof(r->domain));
	for (loops = 0; loops < SMTPD_RESOLVE_LOOPS; loops++) {
		for (char *p = r->domain; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		n = strlen(r->domain);
		while (n > 0 && r->domain[n - 1] == '.')
			r->domain[--n] = '\0';
		if (!smtpd_ours(s, r->domain) ||
		    !smtpd_split_local(r->local, r->domain, sizeof(r->domain)))
			break;
	}
	if (*r->domain == '\0')
		strlcpy(r->domain, s->conf->myorigin, sizeof(r->domain));
	snprintf(r->address, sizeof(r->address), "%s@%s", r->local,
	    r->domain);
	for (char *p = r->address; *p; p++)
		*p = (char)tolower((unsigned char)*p);

	if ((rc = smtpd_alias_lookup(s, r)) == -1)
		return -1;
	r->alias = rc;
	if (smtpd_domain_in(s->conf->mydestination, s->conf->nmydestination,
	    r->domain))
		r->class = SMTPD_CLASS_LOCAL;
	else if ((rc = smtpd_virtual_domain(s, r->domain)) == -1)
		return -1;
	else if (rc == 1)
		r->class = SMTPD_CLASS_VIRTUAL;
	else if (r->alias || smtpd_domain_in(s->conf->virtual_alias_domains,
	    s->conf->nvirtual_alias_domains, r->domain))
		r->class = SMTPD_CLASS_ALIAS;
	else if (smtpd_relay_domain(s, r->domain))
		r->class = SMTPD_CLASS_RELAY;
	else
		r->class = SMTPD_CLASS_FOREIGN;
	return 0;
}

/*
 * relay_domains: the domain or, as Postfix's default
 * parent_domain_matches_subdomains has it, a subdomain of one; an entry
 * ".example.com" matches subdomains only.
 */
static int
smtpd_relay_domain(struct smtpd_session *s, const char *domain)
{
	size_t i, dlen = strlen(domain), elen;
	const char *e;

	for (i = 0; i < s->conf->nrelay_domains; i++) {
		e = s->conf->relay_domains[i];
		elen = strlen(e);
		if (*e != '.' && strcmp(e, domain) == 0)
			return 1;
		if (*e == '.' && dlen > elen &&
		    strcmp(domain + dlen - elen, e) == 0)
			return 1;
		if (*e != '.' && dlen > elen + 1 &&
		    domain[dlen - elen - 1] == '.' &&
		    strcmp(domain + dlen - elen, e) == 0)
			return 1;
	}
	return 0;
}

/* virtual_alias_maps: user@domain, then the @domain catch-all. */
static int
smtpd_alias_lookup(struct smtpd_session *s, const struct smtpd_resolved *r)
{
	char key[SMTP_DOMAIN_MAX + 2];
	int rc;

	rc = smtpd_lookup(s->conf->virtual_alias_maps, r->address,
	    "virtual_alias_maps");
	if (rc != 0)
		return rc;
	snprintf(key, sizeof(key), "@%s", r->domain);
	return smtpd_lookup(s->conf->virtual_alias_maps, key,
	    "virtual_alias_maps");
}

int
smtpd_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
smtpd_local_user(struct smtpd_session *s, const char *user)
{
	const char *key = user;

	if (s->conf->nlocal_users == 0)
		return 0;
	return bsearch(&key, s->conf->local_users, s->conf->nlocal_users,
	    sizeof(char *), smtpd_strcmp) != NULL;
}

int
smtpd_recipient_known(struct smtpd_session *s, const struct smtpd_resolved *r,
    const char *shown, char *reply, size_t replylen)
{
	char user[SMTPD_ADDRESS_MAX + 1];
	int rc;

	if (r->alias || r->class == SMTPD_CLASS_RELAY ||
	    r->class == SMTPD_CLASS_FOREIGN)
		return 1;
	if (r->class == SMTPD_CLASS_ALIAS) {
		snprintf(reply, replylen, "550 5.1.1 <%s>: Recipient address "
		    "rejected: User unknown in virtual alias table", shown);
		return 0;
	}
	if (r->class == SMTPD_CLASS_VIRTUAL) {
		rc = smtpd_lookup(s->conf->virtual_mailbox_maps, r->address,
		    "virtual_mailbox_maps");
		if (rc != 0)
			return rc;
		snprintf(reply, replylen, "550 5.1.1 <%s>: Recipient address "
		    "rejected: User unknown in virtual mailbox table", shown);
		return 0;
	}
	/* mydestination: alias_maps or a local account (lower case). */
	strlcpy(user, r->local, sizeof(user));
	for (char *p = user; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	rc = smtpd_lookup(s->conf->alias_maps, user, "alias_maps");
	if (rc != 0)
		return rc;
	if (smtpd_local_user(s, user))
		return 1;
	if (s->conf->alias_maps_unavailable) {
		/* As Postfix: a missing alias table defers, loudly, once. */
		if (s->conf->alias_maps_unavailable == 1)
			log_warnx("alias_maps is unavailable: %s",
			    s->conf->alias_maps_error);
		s->conf->alias_maps_unavailable = 2;
		return -1;
	}
	snprintf(reply, replylen, "550 5.1.1 <%s>: Recipient address rejected: "
	    "User unknown in local recipient table", shown);
	return 0;
}
