/*
 * master_service: the service table. Each master.cf entry becomes a service
 * with its listener, its status pipe and its pool counts. A reload matches
 * new entries to old ones by endpoint (type, name, private/public), so an
 * unchanged service keeps its open listener and clients see no gap.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "master.h"
#include "master_policy.h"

static struct master_service *master_service_new(struct master *,
    struct service_def *);
static void master_service_free(struct master *, struct master_service *,
    int);
static void master_def_free(struct service_def *);
static void master_service_redefine(struct master *, struct master_service *,
    struct service_def *);

static void
master_def_free(struct service_def *def)
{
	size_t i;

	free(def->name);
	free(def->command);
	for (i = 0; i < def->argc; i++)
		free(def->argv[i]);
	free(def->argv);
	memset(def, 0, sizeof(*def));
}

/* master_service_new: a service that takes over def's memory. */
static struct master_service *
master_service_new(struct master *m, struct service_def *def)
{
	struct master_service *svc;

	svc = xcalloc(1, sizeof(*svc));
	svc->def = *def;
	memset(def, 0, sizeof(*def));
	svc->path = master_command_path(config_get(m->cfg, "daemon_directory"),
	    svc->def.command);
	svc->listen_fd = -1;
	if (pipe2(svc->status_fd, O_CLOEXEC) == -1) {
		log_warn("%s: status pipe", svc->def.name);
		svc->status_fd[0] = svc->status_fd[1] = -1;
		master_service_free(m, svc, 0);
		return NULL;
	}
	set_nonblock(svc->status_fd[0], 1);
	return svc;
}

/* master_service_free: close everything; its children become orphans. */
static void
master_service_free(struct master *m, struct master_service *svc,
    int remove_socket)
{
	struct master_child *child;

	master_unlisten(m, svc, remove_socket);
	if (svc->status_fd[0] != -1)
		close(svc->status_fd[0]);
	if (svc->status_fd[1] != -1)
		close(svc->status_fd[1]);
	TAILQ_FOREACH(child, &m->children, entry)
		if (child->svc == svc)
			child->svc = NULL;
	master_def_free(&svc->def);
	free(svc->path);
	free(svc->sockpath);
	free(svc);
}

int
master_services_start(struct master *m, struct service_def *defs, size_t n,
    char *err, size_t errlen)
{
	struct master_service *svc;
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		if ((svc = master_service_new(m, &defs[i])) == NULL)
			fatalx("cannot create service");
		TAILQ_INSERT_TAIL(&m->services, svc, entry);
		rc = master_listen(m, svc, err, errlen);
	}
	for (; i < n; i++)
		master_def_free(&defs[i]);
	free(defs);
	return rc;
}

/* master_service_redefine: a kept service takes its new definition. */
static void
master_service_redefine(struct master *m, struct master_service *svc,
    struct service_def *def)
{
	master_def_free(&svc->def);
	svc->def = *def;
	memset(def, 0, sizeof(*def));
	free(svc->path);
	svc->path = master_command_path(config_get(m->cfg, "daemon_directory"),
	    svc->def.command);
	svc->throttled_until = 0;
}

void
master_services_reload(struct master *m, struct service_def *defs, size_t n)
{
	struct master_service_list fresh;
	struct master_service *svc, *tmp, **keep;
	char err[1024];
	size_t i;

	keep = xcalloc(n + 1, sizeof(*keep));
	TAILQ_FOREACH(svc, &m->services, entry)
		svc->matched = 0;
	for (i = 0; i < n; i++) {
		TAILQ_FOREACH(svc, &m->services, entry) {
			if (!svc->matched &&
			    master_same_endpoint(&svc->def, &defs[i])) {
				svc->matched = 1;
				keep[i] = svc;
				break;
			}
		}
	}
	/* Close removed listeners first: a new service may reuse a port. */
	TAILQ_FOREACH_SAFE(svc, &m->services, entry, tmp) {
		if (svc->matched)
			continue;
		TAILQ_REMOVE(&m->services, svc, entry);
		master_service_free(m, svc, 1);
	}
	TAILQ_INIT(&fresh);
	for (i = 0; i < n; i++) {
		if ((svc = keep[i]) != NULL) {
			TAILQ_REMOVE(&m->services, svc, entry);
			master_service_redefine(m, svc, &defs[i]);
		} else if ((svc = master_service_new(m, &defs[i])) == NULL) {
			continue;
		} else if (master_listen(m, svc, err, sizeof(err)) == -1) {
			log_warnx("%s; service disabled", err);
			master_service_free(m, svc, 0);
			continue;
		}
		TAILQ_INSERT_TAIL(&fresh, svc, entry);
	}
	for (i = 0; i < n; i++)
		master_def_free(&defs[i]);
	free(defs);
	free(keep);
	TAILQ_CONCAT(&m->services, &fresh, entry);
}

void
master_services_close(struct master *m)
{
	struct master_service *svc;

	TAILQ_FOREACH(svc, &m->services, entry)
		master_unlisten(m, svc, 0);
}

int
master_service_throttled(struct master_service *svc, long long now)
{
	return svc->throttled_until > now;
}
