/*
 * master_policy: pool sizing, throttling and child argv/environment rules
 * (Postfix's model). Pure functions: everything they need is an argument.
 */
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "master_policy.h"

#define MASTER_ENV_MAX	8

/* Variables a child inherits from master's own environment, if set. */
static const char *const master_env_keep[] = {
	"TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

static const char *master_env_find(char *const *, const char *);

int
master_listen_wanted(int total, int idle, int maxproc, int throttled)
{
	if (throttled || idle > 0)
		return 0;
	return maxproc == 0 || total < maxproc;
}

int
master_wakeup_wanted(int wakeup, int total, int throttled)
{
	return wakeup > 0 && total == 0 && !throttled;
}

int
master_exit_normal(int wstatus, int retired)
{
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
		return 1;
	/* A child we told to stop may not catch SIGTERM (qmgr, say). */
	return retired && WIFSIGNALED(wstatus) &&
	    (WTERMSIG(wstatus) == SIGTERM || WTERMSIG(wstatus) == SIGINT);
}

int
master_exit_throttles(int wstatus, int served, int wakeup,
    long long lifetime_ms, int retired)
{
	if (retired)
		return 0;
	if (wakeup)
		return lifetime_ms < MASTER_WAKEUP_MIN_LIFE_MS;
	return !served && !master_exit_normal(wstatus, 0);
}

char *
master_command_path(const char *daemon_dir, const char *command)
{
	if (command[0] == '/')
		return xstrdup(command);
	return xasprintf("%s/%s", daemon_dir, command);
}

char **
master_child_argv(const struct service_def *def, const char *path,
    const char *confdir, int verbose)
{
	char **argv;
	size_t n = 0, i;

	/* path, -c, dir, -n, name, -j, -v, args, NULL */
	argv = xcalloc(def->argc + 8, sizeof(*argv));
	argv[n++] = xstrdup(path);
	argv[n++] = xstrdup("-c");
	argv[n++] = xstrdup(confdir);
	argv[n++] = xstrdup("-n");
	argv[n++] = xstrdup(def->name);
	if (def->chroot)
		argv[n++] = xstrdup("-j");
	if (verbose)
		argv[n++] = xstrdup("-v");
	for (i = 0; i < def->argc; i++)
		argv[n++] = xstrdup(def->argv[i]);
	argv[n] = NULL;
	return argv;
}

static const char *
master_env_find(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env;
	return NULL;
}

char **
master_child_env(char *const *env, int log_stderr)
{
	char **out;
	const char *kept;
	size_t n = 0, i;

	out = xcalloc(MASTER_ENV_MAX, sizeof(*out));
	out[n++] = xstrdup("PATH=/usr/bin:/bin");
	if (log_stderr)
		out[n++] = xstrdup("POSTILION_LOG_STDERR=1");
	for (i = 0; i < sizeof(master_env_keep) / sizeof(*master_env_keep); i++)
		if ((kept = master_env_find(env, master_env_keep[i])) != NULL)
			out[n++] = xstrdup(kept);
	out[n] = NULL;
	return out;
}

void
master_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

int
master_same_endpoint(const struct service_def *a, const struct service_def *b)
{
	if (a->type != b->type || strcmp(a->name, b->name) != 0)
		return 0;
	return a->type == SERVICE_INET || a->private_ == b->private_;
}
