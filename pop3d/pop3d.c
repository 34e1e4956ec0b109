/*
 * pop3d: main. Opens the password and mailbox maps, the mailbox base
 * directory and the TLS certificate and key, drops to virtual_mailbox_owner
 * (chrooted into virtual_mailbox_base with -j), then serves one client at
 * a time. Security: never runs as root past this point; the base directory
 * is used through the descriptor opened before the drop, also inside the
 * chroot; a key file others may read stops the daemon.
 * Parameters: virtual_mailbox_base, virtual_mailbox_maps,
 * virtual_password_maps, virtual_mailbox_owner, pop3d_*.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "core/privsep.h"
#include "ipc/service.h"
#include "pop3d/pop3d.h"

#define POP3D_TIMEOUT_MAX	86400

static void	pop3d_init(struct pop3d *, const struct service_opts *);
static struct map_list *pop3d_maps_open(struct config *, const char *);
static void	pop3d_tls_init(struct pop3d *);
static void	pop3d_auth_table_open(struct pop3d *);
static void	pop3d_client(int, void *);
static void	pop3d_pre_accept(void *);

int
main(int argc, char *argv[])
{
	struct service_opts opts;
	struct pop3d d;

	service_init(argc, argv, "pop3d", &opts);
	pop3d_init(&d, &opts);
	service_serve_pre(opts.cfg, pop3d_client, pop3d_pre_accept, &d);
}

static void
pop3d_init(struct pop3d *d, const struct service_opts *opts)
{
	struct config *cfg = opts->cfg;
	const char *base;
	long long timeout;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	base = config_get(cfg, "virtual_mailbox_base");
	if (*base != '/')
		fatalx("pop3d: virtual_mailbox_base must be an absolute path: "
		    "\"%s\"", base);
	d->password_maps = pop3d_maps_open(cfg, "virtual_password_maps");
	d->mailbox_maps = pop3d_maps_open(cfg, "virtual_mailbox_maps");
	d->basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->basefd == -1)
		fatal("pop3d: open %s", base);
	timeout = config_get_time(cfg, "pop3d_timeout");
	if (timeout < 1 || timeout > POP3D_TIMEOUT_MAX)
		fatalx("pop3d: pop3d_timeout must be 1s to 1d");
	d->timeout = (int)timeout;
	d->line_max = (size_t)config_get_int(cfg, "pop3d_line_length_limit");
	d->error_limit = config_get_int(cfg, "pop3d_hard_error_limit");
	d->auth_failure_limit = config_get_int(cfg, "pop3d_auth_failure_limit");
	d->auth_failure_delay = config_get_time(cfg, "pop3d_auth_failure_delay");
	if (d->line_max < 16 || d->error_limit < 1 || d->auth_failure_limit < 1)
		fatalx("pop3d: pop3d_line_length_limit (>= 16), "
		    "pop3d_hard_error_limit and pop3d_auth_failure_limit "
		    "(>= 1) are too small");
	pop3d_auth_table_open(d);
	pop3d_tls_init(d);
	/* Everything from outside the jail is open: drop for good. */
	priv_drop_user(config_get(cfg, "virtual_mailbox_owner"),
	    opts->chroot ? base : NULL);
}

static struct map_list *
pop3d_maps_open(struct config *cfg, const char *param)
{
	struct map_list *maps;
	char err[512];

	if ((maps = map_list_open(config_get(cfg, param), err,
	    sizeof(err))) == NULL)
		fatalx("pop3d: %s: %s", param, err);
	if (map_list_count(maps) == 0)
		log_warnx("pop3d: %s is empty: nobody can log in", param);
	return maps;
}

/*
 * The per-client-IP table of failed logins, in queue_directory (outside
 * the chroot), shared by all pop3d processes. Without it only the
 * per-session limit applies.
 */
static void
pop3d_auth_table_open(struct pop3d *d)
{
	char *path;

	d->auth_table_fd = -1;
	d->client_auth_limit = config_get_int(d->cfg,
	    "pop3d_client_auth_failure_limit");
	d->auth_window = config_get_time(d->cfg, "anvil_rate_time_unit");
	if (d->client_auth_limit <= 0)
		return;
	if (d->auth_window < 1)
		fatalx("pop3d: anvil_rate_time_unit must be at least 1s");
	path = xasprintf("%s/%s", config_get(d->cfg, "queue_directory"),
	    AUTH_FAILURES_FILE);
	if ((d->auth_table_fd = auth_failures_open(path)) == -1)
		log_warn("pop3d: %s: no per-client login failure limit", path);
	free(path);
}

/*
 * The TLS context for STLS and pop3s. With the default level "may" and no
 * certificate anywhere, pop3d runs without TLS (and logs so); a
 * certificate that is configured but unusable always stops the daemon.
 */
static void
pop3d_tls_init(struct pop3d *d)
{
	struct config *cfg = d->cfg;
	const char *level;
	char err[512];

	level = config_get(cfg, "pop3d_tls_security_level");
	if (strcmp(level, "none") == 0 || *level == '\0')
		d->tls_level = POP3D_TLS_NONE;
	else if (strcmp(level, "may") == 0)
		d->tls_level = POP3D_TLS_MAY;
	else if (strcmp(level, "encrypt") == 0)
		d->tls_level = POP3D_TLS_ENCRYPT;
	else
		fatalx("pop3d: bad pop3d_tls_security_level value: %s "
		    "(none, may or encrypt)", level);
	d->tls_wrapper = config_get_bool(cfg, "pop3d_tls_wrappermode");
	d->tls_auth_only = config_get_bool(cfg, "pop3d_tls_auth_only");
	if (d->tls_level == POP3D_TLS_NONE && !d->tls_wrapper)
		return;
	if (d->tls_level == POP3D_TLS_MAY && !d->tls_wrapper &&
	    *config_get(cfg, "pop3d_tls_cert_file") == '\0' &&
	    *config_get(cfg, "smtpd_tls_cert_file") == '\0') {
		log_warnx("pop3d: no pop3d_tls_cert_file or smtpd_tls_cert_file:"
		    " STLS is not offered");
		return;
	}
	/* TLS 1.2 at least: POP3 clients are all modern (RFC 8314). */
	if ((d->tls_ctx = tls_server_ctx(cfg, "pop3d", 1, "pop3", err,
	    sizeof(err))) == NULL)
		fatalx("pop3d: TLS: %s", err);
}

/*
 * A client is waiting: a process that sat idle while a map was replaced
 * leaves it to a fresh one (which opens the new maps) instead of serving
 * it from the old ones.
 */
static void
pop3d_pre_accept(void *arg)
{
	struct pop3d *d = arg;

	if (map_list_changed(d->password_maps) ||
	    map_list_changed(d->mailbox_maps))
		exit(0);
}

static void
pop3d_client(int fd, void *arg)
{
	struct pop3d *d = arg;

	pop3_session(fd, d);
	/* A replaced map is picked up by the next process master starts. */
	if (map_list_changed(d->password_maps) ||
	    map_list_changed(d->mailbox_maps))
		exit(0);
}
