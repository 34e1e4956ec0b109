/*
 * smtpd: the SMTP server. Started by master with the listening socket on
 * fd 3; serves one client at a time (smtpd_session.c) until max_use.
 * Security: reads main.cf, opens the maps and primes the resolver while
 * still root, then drops to mail_owner (chrooted into queue_directory when
 * master.cf says so). It never executes anything.
 * Parameters: queue_directory, mail_owner, myhostname, myorigin, mail_name,
 * smtpd_banner, smtpd_timeout, smtpd_*_limit, line_length_limit,
 * message_size_limit, header_size_limit, hopcount_limit, mynetworks,
 * mydestination, relay_domains, virtual_mailbox_domains,
 * virtual_mailbox_maps, virtual_alias_maps, alias_maps,
 * smtpd_forbid_bare_newline[_exclusions], smtpd_soft_error_limit,
 * smtpd_error_sleep_time, smtpd_client_connection_count_limit,
 * smtpd_client_connection_rate_limit, anvil_rate_time_unit,
 * smtpd_client_event_limit_exceptions, smtputf8_enable,
 * smtpd_forbid_unauth_pipelining, the smtpd_*_restrictions lists
 * (smtpd_policy.c), the TLS (smtpd_tls.c) and SASL (smtpd_auth.c) ones.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netdb.h>
#include <resolv.h>
#include <ctype.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "ipc/service.h"
#include "smtpd/smtpd.h"

static long long smtpd_limit(struct config *, const char *, long long);
static void smtpd_domains(struct smtpd_conf *, struct config *);
static void smtpd_conf_load(struct smtpd_conf *, struct config *);
static void smtpd_resolver_init(void);
static char **smtpd_domain_list(struct config *, const char *, size_t *);
static struct map_list *smtpd_maps(struct config *, const char *);
static struct netaddr_list *smtpd_networks(struct config *, const char *);
static void smtpd_local_users(struct smtpd_conf *);
static int smtpd_bare_newline(struct config *);

/* smtpd_limit: a non-negative integer parameter, fatal when it is not. */
static long long
smtpd_limit(struct config *cfg, const char *name, long long min)
{
	long long v = config_get_int(cfg, name);

	if (v < min)
		fatalx("bad %s value: %s", name, config_get(cfg, name));
	return v;
}

/*
 * virtual_mailbox_domains: domain names, or "type:name" tables that list
 * domains (as Postfix allows).
 */
static void
smtpd_domains(struct smtpd_conf *conf, struct config *cfg)
{
	struct buf maps;
	char **list, *p, err[512];
	size_t n, i;

	buf_init(&maps);
	buf_puts(&maps, "");
	list = config_split(config_get(cfg, "virtual_mailbox_domains"), &n);
	conf->virtual_domains = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (strchr(list[i], ':') != NULL) {
			buf_printf(&maps, "%s%s", maps.len ? ", " : "",
			    list[i]);
			continue;
		}
		if (list[i][0] == '/')
			fatalx("virtual_mailbox_domains: file names are not "
			    "supported, use a table: %s", list[i]);
		p = xstrdup(list[i]);
		for (char *q = p; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		conf->virtual_domains[conf->nvirtual_domains++] = p;
	}
	config_split_free(list);
	conf->virtual_domain_maps = map_list_open(maps.data, err, sizeof(err));
	if (conf->virtual_domain_maps == NULL)
		fatalx("virtual_mailbox_domains: %s", err);
	buf_free(&maps);
}

/* A list of domain names (lower case); tables are not supported here. */
static char **
smtpd_domain_list(struct config *cfg, const char *name, size_t *count)
{
	char **list, **out;
	size_t n, i;

	list = config_split(config_get(cfg, name), &n);
	out = xcalloc(n + 1, sizeof(char *));
	*count = 0;
	for (i = 0; i < n; i++) {
		if (strchr(list[i], ':') != NULL || list[i][0] == '/')
			fatalx("%s: only domain names are supported: %s", name,
			    list[i]);
		out[*count] = xstrdup(list[i]);
		for (char *q = out[*count]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		(*count)++;
	}
	config_split_free(list);
	return out;
}

static struct map_list *
smtpd_maps(struct config *cfg, const char *name)
{
	struct map_list *maps;
	char err[512];

	if ((maps = map_list_open(config_get(cfg, name), err,
	    sizeof(err))) == NULL)
		fatalx("%s: %s", name, err);
	return maps;
}

static struct netaddr_list *
smtpd_networks(struct config *cfg, const char *name)
{
	struct netaddr_list *list;
	char err[512];

	if ((list = netaddr_list_parse(config_get(cfg, name), err,
	    sizeof(err))) == NULL)
		fatalx("%s: %s", name, err);
	return list;
}

/*
 * The local accounts, read once before the chroot (where there is no
 * passwd file): recipients in mydestination are checked against them.
 */
static void
smtpd_local_users(struct smtpd_conf *conf)
{
	struct passwd *pw;
	size_t alloc = 0;

	setpwent();
	while ((pw = getpwent()) != NULL && conf->nlocal_users < 1000000) {
		if (conf->nlocal_users == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			conf->local_users = xreallocarray(conf->local_users,
			    alloc, sizeof(char *));
		}
		conf->local_users[conf->nlocal_users] = xstrdup(pw->pw_name);
		for (char *q = conf->local_users[conf->nlocal_users]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		conf->nlocal_users++;
	}
	endpwent();
	if (conf->nlocal_users > 0)
		qsort(conf->local_users, conf->nlocal_users, sizeof(char *),
		    smtpd_strcmp);
}

/* Postfix's values: normalize (default), yes/reject, no. */
static int
smtpd_bare_newline(struct config *cfg)
{
	const char *v = config_get(cfg, "smtpd_forbid_bare_newline");

	if (*v == '\0' || strcasecmp(v, "normalize") == 0)
		return SMTPD_BARE_NORMALIZE;
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "reject") == 0)
		return SMTPD_BARE_REJECT;
	if (strcasecmp(v, "no") == 0)
		return SMTPD_BARE_NO;
	fatalx("bad smtpd_forbid_bare_newline value: %s", v);
}

static void
smtpd_conf_load(struct smtpd_conf *conf, struct config *cfg)
{
	char err[512];

	memset(conf, 0, sizeof(*conf));
	conf->cfg = cfg;
	conf->myhostname = config_get(cfg, "myhostname");
	conf->myorigin = config_get(cfg, "myorigin");
	conf->mail_name = config_get(cfg, "mail_name");
	conf->banner = config_get(cfg, "smtpd_banner");
	conf->message_size_limit = smtpd_limit(cfg, "message_size_limit", 0);
	conf->recipient_limit = smtpd_limit(cfg, "smtpd_recipient_limit", 1);
	conf->hard_error_limit = smtpd_limit(cfg, "smtpd_hard_error_limit", 1);
	conf->junk_command_limit = smtpd_limit(cfg, "smtpd_junk_command_limit",
	    1);
	/* 512 is RFC 5321's minimum for a command line (4.5.3.1.4). */
	conf->line_length_limit = smtpd_limit(cfg, "line_length_limit", 512);
	conf->header_size_limit = smtpd_limit(cfg, "header_size_limit", 1);
	conf->hopcount_limit = smtpd_limit(cfg, "hopcount_limit", 1);
	conf->soft_error_limit = smtpd_limit(cfg, "smtpd_soft_error_limit", 1);
	conf->error_sleep_time = config_get_time(cfg, "smtpd_error_sleep_time");
	if (conf->error_sleep_time < 0 || conf->error_sleep_time > 3600)
		fatalx("bad smtpd_error_sleep_time value");
	conf->conn_count_limit = smtpd_limit(cfg,
	    "smtpd_client_connection_count_limit", 0);
	conf->forbid_bare_newline = smtpd_bare_newline(cfg);
	conf->smtputf8 = config_get_bool(cfg, "smtputf8_enable");
	conf->forbid_unauth_pipelining = config_get_bool(cfg,
	    "smtpd_forbid_unauth_pipelining");
	conf->conn_table_fd = -1;
	conf->rate_table_fd = -1;
	conf->rate_limit = smtpd_limit(cfg,
	    "smtpd_client_connection_rate_limit", 0);
	conf->rate_unit = config_get_time(cfg, "anvil_rate_time_unit");
	if (conf->rate_unit <= 0)
		fatalx("bad anvil_rate_time_unit value");
	conf->timeout = config_get_time(cfg, "smtpd_timeout");
	if (conf->timeout <= 0 || conf->timeout > 86400)
		fatalx("bad smtpd_timeout value: %s",
		    config_get(cfg, "smtpd_timeout"));
	if (*conf->myhostname == '\0')
		fatalx("myhostname is empty");

	conf->mynetworks = netaddr_list_parse(config_get(cfg, "mynetworks"),
	    err, sizeof(err));
	if (conf->mynetworks == NULL)
		fatalx("mynetworks: %s", err);
	conf->bare_newline_exclusions = smtpd_networks(cfg,
	    "smtpd_forbid_bare_newline_exclusions");
	conf->event_exceptions = smtpd_networks(cfg,
	    "smtpd_client_event_limit_exceptions");
	conf->mydestination = smtpd_domain_list(cfg, "mydestination",
	    &conf->nmydestination);
	conf->relay_domains = smtpd_domain_list(cfg, "relay_domains",
	    &conf->nrelay_domains);
	conf->virtual_alias_domains = smtpd_domain_list(cfg,
	    "virtual_alias_domains", &conf->nvirtual_alias_domains);
	conf->virtual_alias_maps = smtpd_maps(cfg, "virtual_alias_maps");
	/* Like Postfix: a missing alias database defers, it is not fatal. */
	if ((conf->alias_maps = map_list_open(config_get(cfg, "alias_maps"),
	    err, sizeof(err))) == NULL) {
		strlcpy(conf->alias_maps_error, err,
		    sizeof(conf->alias_maps_error));
		conf->alias_maps_unavailable = 1;
	}
	smtpd_local_users(conf);
	smtpd_restrictions_load(conf);
	smtpd_domains(conf, cfg);
	smtpd_tls_load(conf);
	smtpd_auth_load(conf);
	conf->virtual_mailbox_maps = map_list_open(config_get(cfg,
	    "virtual_mailbox_maps"), err, sizeof(err));
	if (conf->virtual_mailbox_maps == NULL)
		fatalx("virtual_mailbox_maps: %s", err);
}

/*
 * Read resolv.conf and nsswitch.conf now, before the chroot; inside it
 * the C library rereads the copies master keeps in queue_directory/etc.
 */
static void
smtpd_resolver_init(void)
{
	struct sockaddr_in sin;
	char host[NI_MAXHOST];

	(void)res_init();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)getnameinfo((struct sockaddr *)&sin, sizeof(sin), host,
	    sizeof(host), NULL, 0, NI_NAMEREQD);
}

int
main(int argc, char *argv[])
{
	struct service_opts opts;
	struct smtpd_conf conf;
	const char *queue_dir;

	service_init(argc, argv, "smtpd", &opts);
	smtpd_conf_load(&conf, opts.cfg);
	smtpd_resolver_init();

	queue_dir = config_get(opts.cfg, "queue_directory");
	if (*queue_dir != '/')
		fatalx("queue_directory must be an absolute path: %s",
		    queue_dir);
	if (!opts.chroot && chdir(queue_dir) == -1)
		fatal("chdir %s", queue_dir);
	priv_drop_user(config_get(opts.cfg, "mail_owner"),
	    opts.chroot ? queue_dir : NULL);
	/* Without recycle/ every message gets a new file, as before. */
	if (queue_pool_open(&conf.queue_pool, QUEUE_RECYCLE,
	    config_get_int(opts.cfg, "queue_recycle_limit")) == -1)
		log_warn("open %s (new queue files only)", QUEUE_RECYCLE);

	service_serve(opts.cfg, smtpd_session, &conf);
}
