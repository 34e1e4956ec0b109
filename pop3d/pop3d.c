/*
 * pop3d: main. Opens the password and mailbox maps and the mailbox base
 * directory, drops to virtual_mailbox_owner (chrooted into
 * virtual_mailbox_base with -j), then serves one client at a time.
 * Security: never runs as root past this point; the base directory is used
 * through the descriptor opened before the drop, also inside the chroot.
 * Parameters: virtual_mailbox_base, virtual_mailbox_maps,
 * virtual_password_maps, virtual_mailbox_owner, pop3d_*.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/privsep.h"
#include "ipc/service.h"
#include "pop3d/pop3d.h"

#define POP3D_TIMEOUT_MAX	86400

static void	pop3d_init(struct pop3d *, const struct service_opts *);
static struct map_list *pop3d_maps_open(struct config *, const char *);
static void	pop3d_client(int, void *);

int
main(int argc, char *argv[])
{
	struct service_opts opts;
	struct pop3d d;

	service_init(argc, argv, "pop3d", &opts);
	pop3d_init(&d, &opts);
	service_serve(opts.cfg, pop3d_client, &d);
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
