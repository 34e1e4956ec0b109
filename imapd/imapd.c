/*
 * imapd: main. Opens the password and mailbox maps, the mailbox base
 * directory and the TLS context, drops to virtual_mailbox_owner (chrooted
 * into virtual_mailbox_base with -j), then serves one client at a time.
 * Security: never root past this point; mailboxes are reached through the
 * base directory descriptor opened before the drop.
 * Parameters: virtual_mailbox_base, virtual_mailbox_maps,
 * virtual_password_maps, virtual_mailbox_owner, imapd_*.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/privsep.h"
#include "core/xmalloc.h"
#include "imapd/imapd.h"
#include "ipc/service.h"
#include "tls/tls_server.h"

#define IMAPD_TIMEOUT_MAX	86400
#define IMAPD_IDLE_MIN		1800	/* RFC 9051 5.4: at least 30 min */
#define IMAPD_ARGS_MAX		100000

static void	imapd_init(struct imapd *, const struct service_opts *);
static void	imapd_limits(struct imapd *);
static void	imapd_tls_init(struct imapd *);
static void	imapd_auth_table_open(struct imapd *);
static struct map_list *imapd_maps_open(struct config *, const char *);
static void	imapd_client(int, void *);
static void	imapd_pre_accept(void *);

int
main(int argc, char *argv[])
{
	struct service_opts opts;
	struct imapd d;

	service_init(argc, argv, "imapd", &opts);
	imapd_init(&d, &opts);
	service_serve_pre(opts.cfg, imapd_client, imapd_pre_accept, &d);
}

static void
imapd_init(struct imapd *d, const struct service_opts *opts)
{
	struct config *cfg = opts->cfg;
	const char *base;
	long long t;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	base = config_get(cfg, "virtual_mailbox_base");
	if (*base != '/')
		fatalx("imapd: virtual_mailbox_base must be an absolute path: "
		    "\"%s\"", base);
	d->password_maps = imapd_maps_open(cfg, "virtual_password_maps");
	d->mailbox_maps = imapd_maps_open(cfg, "virtual_mailbox_maps");
	d->basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->basefd == -1)
		fatal("imapd: open %s", base);
	t = config_get_time(cfg, "imapd_login_timeout");
	if (t < 1 || t > IMAPD_TIMEOUT_MAX)
		fatalx("imapd: imapd_login_timeout must be 1s to 1d");
	d->login_timeout = (int)t;
	t = config_get_time(cfg, "imapd_idle_timeout");
	if (t < 1 || t > IMAPD_TIMEOUT_MAX)
		fatalx("imapd: imapd_idle_timeout must be 1s to 1d");
	if (t < IMAPD_IDLE_MIN)
		log_warnx("imapd: imapd_idle_timeout below 30 minutes breaks "
		    "RFC 9051 clients");
	d->idle_timeout = (int)t;
	t = config_get_time(cfg, "imapd_command_time_limit");
	if (t < 1 || t > IMAPD_TIMEOUT_MAX)
		fatalx("imapd: imapd_command_time_limit must be 1s to 1d");
	d->command_time = (int)t;
	d->error_limit = config_get_int(cfg, "imapd_hard_error_limit");
	d->auth_failure_limit = config_get_int(cfg, "imapd_auth_failure_limit");
	d->auth_failure_delay = config_get_time(cfg, "imapd_auth_failure_delay");
	if (d->error_limit < 1 || d->auth_failure_limit < 1)
		fatalx("imapd: imapd_hard_error_limit and "
		    "imapd_auth_failure_limit must be at least 1");
	imapd_limits(d);
	imapd_tls_init(d);
	imapd_auth_table_open(d);
	priv_drop_user(config_get(cfg, "virtual_mailbox_owner"),
	    opts->chroot ? base : NULL);
}

/*
 * The per-client-IP table of failed logins in queue_directory (outside
 * the chroot), shared with pop3d: a guesser's failures in either protocol
 * count. Opened before the privilege drop; without it only the
 * per-session limit applies.
 */
static void
imapd_auth_table_open(struct imapd *d)
{
	char *path;

	d->auth_table_fd = -1;
	d->client_auth_limit = config_get_int(d->cfg,
	    "imapd_client_auth_failure_limit");
	d->auth_window = config_get_time(d->cfg, "anvil_rate_time_unit");
	if (d->client_auth_limit <= 0)
		return;
	if (d->auth_window < 1)
		fatalx("imapd: anvil_rate_time_unit must be at least 1s");
	path = xasprintf("%s/%s", config_get(d->cfg, "queue_directory"),
	    AUTH_FAILURES_FILE);
	if ((d->auth_table_fd = auth_failures_open(path)) == -1)
		log_warn("imapd: %s: no per-client login failure limit", path);
	free(path);
}

/* Before login a client gets just enough room to log in. */
static void
imapd_limits(struct imapd *d)
{
	long long line, literal, depth;

	line = config_get_int(d->cfg, "imapd_line_length_limit");
	literal = config_get_int(d->cfg, "imapd_literal_size_limit");
	depth = config_get_int(d->cfg, "imapd_nesting_limit");
	if (line < 1024 || literal < 1024 || depth < 2 || depth > 1000)
		fatalx("imapd: imapd_line_length_limit and "
		    "imapd_literal_size_limit must be at least 1024, "
		    "imapd_nesting_limit 2 to 1000");
	d->lim_auth.line_max = (size_t)line;
	d->lim_auth.literal_max = (size_t)literal;
	d->lim_auth.nonsync_max = (size_t)literal;
	d->lim_auth.command_max = (size_t)literal + 4 * (size_t)line;
	d->lim_auth.depth_max = (int)depth;
	d->lim_auth.args_max = IMAPD_ARGS_MAX;
	d->lim_pre = d->lim_auth;
	d->lim_pre.line_max = (size_t)(line < 8192 ? line : 8192);
	d->lim_pre.literal_max = IMAPD_PRELOGIN_LITERAL;
	d->lim_pre.nonsync_max = IMAP_LITERAL_MINUS_MAX;
	d->lim_pre.command_max = 2 * IMAPD_PRELOGIN_LITERAL +
	    d->lim_pre.line_max;
	d->lim_pre.args_max = 64;
}

/*
 * STARTTLS and imaps: like pop3d, level "may" without any certificate
 * runs without TLS; a configured but unusable one stops the daemon.
 */
static void
imapd_tls_init(struct imapd *d)
{
	struct config *cfg = d->cfg;
	const char *level;
	char err[512];

	level = config_get(cfg, "imapd_tls_security_level");
	d->tls_wrapper = config_get_bool(cfg, "imapd_tls_wrappermode");
	d->tls_auth_only = config_get_bool(cfg, "imapd_tls_auth_only");
	d->tls_encrypt = strcmp(level, "encrypt") == 0;
	if (strcmp(level, "none") != 0 && strcmp(level, "may") != 0 &&
	    !d->tls_encrypt && *level != '\0')
		fatalx("imapd: bad imapd_tls_security_level value: %s "
		    "(none, may or encrypt)", level);
	if ((strcmp(level, "none") == 0 || *level == '\0') && !d->tls_wrapper)
		return;
	if (strcmp(level, "may") == 0 && !d->tls_wrapper &&
	    *config_get(cfg, "imapd_tls_cert_file") == '\0' &&
	    *config_get(cfg, "smtpd_tls_cert_file") == '\0') {
		log_warnx("imapd: no imapd_tls_cert_file or smtpd_tls_cert_file:"
		    " STARTTLS is not offered");
		return;
	}
	if ((d->tls_ctx = tls_server_ctx(cfg, "imapd", 1, "imap", err,
	    sizeof(err))) == NULL)
		fatalx("imapd: TLS: %s", err);
}

static struct map_list *
imapd_maps_open(struct config *cfg, const char *param)
{
	struct map_list *maps;
	char err[512];

	if ((maps = map_list_open(config_get(cfg, param), err,
	    sizeof(err))) == NULL)
		fatalx("imapd: %s: %s", param, err);
	if (map_list_count(maps) == 0)
		log_warnx("imapd: %s is empty: nobody can log in", param);
	return maps;
}

/*
 * A map replaced while this process sat idle (`postilion user add`):
 * leave the waiting client to a fresh process with the new accounts.
 */
static void
imapd_pre_accept(void *arg)
{
	struct imapd *d = arg;

	if (map_list_changed(d->password_maps) ||
	    map_list_changed(d->mailbox_maps))
		exit(0);
}

static void
imapd_client(int fd, void *arg)
{
	struct imapd *d = arg;

	imap_session(fd, d);
	if (map_list_changed(d->password_maps) ||
	    map_list_changed(d->mailbox_maps))
		exit(0);
}
