/*
 * smtpd: the SMTP server. Started by master with the listening socket on
 * fd 3; serves one client at a time (smtpd_session.c) until max_use.
 * Security: reads main.cf, opens the maps and primes the resolver while
 * still root, then drops to mail_owner (chrooted into queue_directory when
 * master.cf says so). It never executes anything.
 * Parameters: queue_directory, mail_owner, myhostname, myorigin, mail_name,
 * smtpd_banner, smtpd_timeout, smtpd_*_limit, line_length_limit,
 * message_size_limit, header_size_limit, hopcount_limit, mynetworks,
 * virtual_mailbox_domains, virtual_mailbox_maps.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netdb.h>
#include <resolv.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
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
	smtpd_domains(conf, cfg);
	conf->virtual_mailbox_maps = map_list_open(config_get(cfg,
	    "virtual_mailbox_maps"), err, sizeof(err));
	if (conf->virtual_mailbox_maps == NULL)
		fatalx("virtual_mailbox_maps: %s", err);
}

/*
 * Read resolv.conf and nsswitch.conf now: inside the chroot they may not
 * exist (the administrator can copy them into queue_directory/etc).
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

	service_serve(opts.cfg, smtpd_session, &conf);
}
