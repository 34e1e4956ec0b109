/*
 * smtpd_policy: whether smtpd takes a recipient, in Postfix's terms
 * reject_unlisted_recipient + permit_mynetworks + reject_unauth_destination:
 * a domain in virtual_mailbox_domains needs the address in
 * virtual_mailbox_maps; any other domain is relayed only for a client
 * in mynetworks.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "smtpd/smtpd.h"

static int smtpd_virtual_domain(struct smtpd_session *, const char *);
static int smtpd_mailbox_lookup(struct smtpd_session *, const char *);

/* 1 yes, 0 no, -1 a table could not be read. */
static int
smtpd_virtual_domain(struct smtpd_session *s, const char *domain)
{
	struct buf value;
	size_t i;
	int rc;

	for (i = 0; i < s->conf->nvirtual_domains; i++)
		if (strcmp(s->conf->virtual_domains[i], domain) == 0)
			return 1;
	if (map_list_count(s->conf->virtual_domain_maps) == 0)
		return 0;
	buf_init(&value);
	rc = map_list_lookup(s->conf->virtual_domain_maps, domain, &value);
	buf_free(&value);
	if (rc == -1)
		log_warnx("virtual_mailbox_domains: lookup of %s failed",
		    domain);
	return rc;
}

/* The full address in lower case, as map build folds keys. */
static int
smtpd_mailbox_lookup(struct smtpd_session *s, const char *address)
{
	char key[SMTPD_ADDRESS_MAX + 1];
	struct buf value;
	size_t i;
	int rc;

	for (i = 0; address[i] != '\0' && i < sizeof(key) - 1; i++)
		key[i] = (char)tolower((unsigned char)address[i]);
	key[i] = '\0';
	buf_init(&value);
	rc = map_list_lookup(s->conf->virtual_mailbox_maps, key, &value);
	buf_free(&value);
	if (rc == -1)
		log_warnx("virtual_mailbox_maps: lookup of %s failed", key);
	return rc;
}

int
smtpd_rcpt_policy(struct smtpd_session *s, const char *address,
    const char *domain, const char *shown, char *reply, size_t replylen)
{
	int rc;

	if ((rc = smtpd_virtual_domain(s, domain)) == -1)
		goto tempfail;
	if (rc == 1) {
		if ((rc = smtpd_mailbox_lookup(s, address)) == -1)
			goto tempfail;
		if (rc == 1)
			return SMTPD_ACCEPT;
		snprintf(reply, replylen, "550 5.1.1 <%s>: Recipient address "
		    "rejected: User unknown in virtual mailbox table", shown);
		return SMTPD_REJECT;
	}
	if (s->have_ip && netaddr_list_match(s->conf->mynetworks,
	    &s->client_ip))
		return SMTPD_ACCEPT;
	snprintf(reply, replylen, "554 5.7.1 <%s>: Relay access denied", shown);
	return SMTPD_REJECT;
tempfail:
	snprintf(reply, replylen, "451 4.3.0 <%s>: Temporary lookup failure",
	    shown);
	return SMTPD_REJECT;
}
