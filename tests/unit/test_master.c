/*
 * test_master: master's pool and throttle policy, the child's argv and
 * environment, endpoint matching for reload (master/master_policy.c), and
 * master.cf loading and endpoint resolution (master/master_conf.c).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <criterion/criterion.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../master/master_conf.h"
#include "../../master/master_policy.h"

/* Wait statuses as waitpid reports them (Linux encoding). */
#define EXITED(code)	(((code) & 0xff) << 8)
#define SIGNALED(sig)	((sig) & 0x7f)

static struct service_def
def_make(const char *name, enum service_type type, int private_)
{
	struct service_def d;

	memset(&d, 0, sizeof(d));
	d.name = (char *)name;
	d.type = type;
	d.private_ = private_;
	d.command = (char *)"smtpd";
	return d;
}

static size_t
strv_len(char **v)
{
	size_t n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

Test(master_policy, wait_status_encoding)
{
	cr_assert(WIFEXITED(EXITED(3)) && WEXITSTATUS(EXITED(3)) == 3);
	cr_assert(WIFSIGNALED(SIGNALED(SIGSEGV)) &&
	    WTERMSIG(SIGNALED(SIGSEGV)) == SIGSEGV);
}

Test(master_policy, listen_only_without_idle_child_and_below_maxproc)
{
	cr_assert(master_listen_wanted(0, 0, 100, 0));
	cr_assert(!master_listen_wanted(1, 1, 100, 0), "an idle child accepts");
	cr_assert(master_listen_wanted(99, 0, 100, 0));
	cr_assert(!master_listen_wanted(100, 0, 100, 0), "pool is full");
	cr_assert(!master_listen_wanted(150, 0, 100, 0), "over after reload");
	cr_assert(master_listen_wanted(100000, 0, 0, 0), "0 is unlimited");
	cr_assert(!master_listen_wanted(0, 0, 100, 1), "throttled");
	cr_assert(!master_listen_wanted(1, 0, 1, 0), "maxproc 1, busy");
}

Test(master_policy, wakeup_services_keep_one_child)
{
	cr_assert(master_wakeup_wanted(300, 0, 0));
	cr_assert(!master_wakeup_wanted(300, 1, 0));
	cr_assert(!master_wakeup_wanted(300, 0, 1), "throttled");
	cr_assert(!master_wakeup_wanted(0, 0, 0), "not a wakeup service");
}

Test(master_policy, bad_startup_throttles)
{
	/* Died before serving anyone, abnormally: throttle. */
	cr_assert(master_exit_throttles(EXITED(1), 0, 0, 50, 0));
	cr_assert(master_exit_throttles(EXITED(127), 0, 0, 600000, 0));
	cr_assert(master_exit_throttles(SIGNALED(SIGSEGV), 0, 0, 10, 0));
	cr_assert(master_exit_throttles(SIGNALED(SIGKILL), 0, 0, 10, 0));
}

Test(master_policy, useful_or_clean_exits_do_not_throttle)
{
	cr_assert(!master_exit_throttles(EXITED(0), 0, 0, 10, 0),
	    "max_idle/max_use exit");
	cr_assert(!master_exit_throttles(EXITED(1), 1, 0, 10, 0),
	    "crashed after serving a client: just replace it");
	cr_assert(!master_exit_throttles(SIGNALED(SIGSEGV), 1, 0, 10, 0));
	cr_assert(!master_exit_throttles(EXITED(1), 0, 0, 10, 1),
	    "retired by a reload");
	cr_assert(!master_exit_throttles(SIGNALED(SIGTERM), 0, 1, 10, 1),
	    "retired wakeup child");
}

Test(master_policy, wakeup_service_throttles_on_short_life)
{
	cr_assert(master_exit_throttles(EXITED(1), 0, 300, 100, 0));
	cr_assert(master_exit_throttles(EXITED(0), 0, 300, 100, 0),
	    "a wakeup service exiting at once would spin");
	cr_assert(master_exit_throttles(EXITED(1), 0, 300,
	    MASTER_WAKEUP_MIN_LIFE_MS - 1, 0));
	cr_assert(!master_exit_throttles(EXITED(1), 0, 300,
	    MASTER_WAKEUP_MIN_LIFE_MS, 0));
	cr_assert(!master_exit_throttles(SIGNALED(SIGSEGV), 0, 300, 3600000,
	    0), "a long-lived qmgr crash is replaced at once");
}

Test(master_policy, exit_normal)
{
	cr_assert(master_exit_normal(EXITED(0), 0));
	cr_assert(!master_exit_normal(EXITED(2), 0));
	cr_assert(!master_exit_normal(SIGNALED(SIGTERM), 0));
	cr_assert(master_exit_normal(SIGNALED(SIGTERM), 1));
	cr_assert(master_exit_normal(SIGNALED(SIGINT), 1));
	cr_assert(!master_exit_normal(SIGNALED(SIGSEGV), 1));
}

Test(master_policy, command_path)
{
	char *p;

	p = master_command_path("/usr/libexec/postilion", "smtpd");
	cr_assert_str_eq(p, "/usr/libexec/postilion/smtpd");
	free(p);
	p = master_command_path("/usr/libexec/postilion", "/opt/x/filter");
	cr_assert_str_eq(p, "/opt/x/filter");
	free(p);
}

Test(master_policy, child_argv)
{
	struct service_def d = def_make("127.0.0.1:2525", SERVICE_INET, 0);
	char *args[] = { "-o", "smtpd_banner=$myhostname hi", "-t", "local",
	    NULL };
	char **v;

	d.argv = args;
	d.argc = 4;
	v = master_child_argv(&d, "/x/smtpd", "/etc/postilion", 0);
	cr_assert_eq(strv_len(v), 9);
	cr_assert_str_eq(v[0], "/x/smtpd");
	cr_assert_str_eq(v[1], "-c");
	cr_assert_str_eq(v[2], "/etc/postilion");
	cr_assert_str_eq(v[3], "-n");
	cr_assert_str_eq(v[4], "127.0.0.1:2525");
	cr_assert_str_eq(v[5], "-o");
	cr_assert_str_eq(v[6], "smtpd_banner=$myhostname hi",
	    "arguments pass unexpanded and unsplit");
	cr_assert_str_eq(v[8], "local");
	master_strv_free(v);

	d.chroot = 1;
	v = master_child_argv(&d, "/x/smtpd", "/c", 1);
	cr_assert_eq(strv_len(v), 11);
	cr_assert_str_eq(v[5], "-j");
	cr_assert_str_eq(v[6], "-v");
	cr_assert_str_eq(v[7], "-o");
	master_strv_free(v);
}

Test(master_policy, child_env_is_clean)
{
	char *env[] = { "HOME=/root", "LD_PRELOAD=/tmp/evil.so",
	    "PATH=/home/u/bin", "ASAN_OPTIONS=detect_leaks=1",
	    "TZ=UTC", "ASAN_OPTIONSX=no", "UBSAN_OPTIONS=print_stacktrace=1",
	    "POSTILION_LOG_STDERR=1", NULL };
	char **v;
	size_t i;

	v = master_child_env(env, 0);
	cr_assert_str_eq(v[0], "PATH=/usr/bin:/bin");
	for (i = 0; v[i] != NULL; i++) {
		cr_assert(strncmp(v[i], "LD_PRELOAD", 10) != 0);
		cr_assert(strncmp(v[i], "HOME", 4) != 0);
		cr_assert(strncmp(v[i], "POSTILION_LOG_STDERR", 20) != 0,
		    "only master decides where children log");
		cr_assert(strcmp(v[i], "ASAN_OPTIONSX=no") != 0);
	}
	cr_assert_eq(i, 4, "PATH, TZ, ASAN_OPTIONS, UBSAN_OPTIONS");
	master_strv_free(v);

	v = master_child_env(env, 1);
	cr_assert_str_eq(v[1], "POSTILION_LOG_STDERR=1");
	master_strv_free(v);

	v = master_child_env(NULL, 0);
	cr_assert_eq(strv_len(v), 1);
	master_strv_free(v);
}

Test(master_policy, same_endpoint)
{
	struct service_def a = def_make("smtp", SERVICE_INET, 0);
	struct service_def b = def_make("smtp", SERVICE_UNIX, 1);
	struct service_def c = def_make("smtp", SERVICE_UNIX, 0);
	struct service_def d = def_make("smtp", SERVICE_INET, 1);
	struct service_def e = def_make("2525", SERVICE_INET, 0);

	cr_assert(!master_same_endpoint(&a, &b), "name may repeat per type");
	cr_assert(!master_same_endpoint(&b, &c), "private/ versus public/");
	cr_assert(master_same_endpoint(&a, &d), "private column is unix-only");
	cr_assert(!master_same_endpoint(&a, &e));
	cr_assert(master_same_endpoint(&b, &b));
}

/* master_conf: loading master.cf from a directory, resolving endpoints. */

static char *
conf_dir_with(const char *master_cf)
{
	char tmpl[] = "/tmp/test_master.XXXXXX", *dir, *path;
	FILE *fp;

	cr_assert_not_null(dir = mkdtemp(tmpl));
	dir = strdup(dir);
	if (master_cf != NULL) {
		cr_assert(asprintf(&path, "%s/master.cf", dir) > 0);
		cr_assert_not_null(fp = fopen(path, "w"));
		fputs(master_cf, fp);
		fclose(fp);
		free(path);
	}
	return dir;
}

static void
conf_dir_remove(char *dir)
{
	char *path;

	cr_assert(asprintf(&path, "%s/master.cf", dir) > 0);
	unlink(path);
	free(path);
	rmdir(dir);
	free(dir);
}

Test(master_conf, load_uses_default_process_limit)
{
	char *dir = conf_dir_with(
	    "smtp inet n - y - - smtpd\n"
	    "smtp unix - - y - 7 deliver -t smtp\n"
	    "qmgr unix n - y 300 1 qmgr\n");
	struct config *cfg = config_new(dir);
	struct service_def *v;
	char err[512];
	size_t n;

	config_set(cfg, "default_process_limit", "42");
	cr_assert_eq(master_conf_load(cfg, dir, &v, &n, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(n, 3, "same name, different type is allowed");
	cr_assert_eq(v[0].maxproc, 42);
	cr_assert_eq(v[1].maxproc, 7);
	cr_assert_eq(v[2].wakeup, 300);
	master_cf_free(v, n);
	config_free(cfg);
	conf_dir_remove(dir);
}

Test(master_conf, load_rejects_duplicates_and_bad_limits)
{
	char *dir = conf_dir_with(
	    "# comment\n"
	    "local unix - n y - - deliver -t local\n"
	    "smtp inet n - y - - smtpd\n"
	    "local unix - n y - - deliver -t local\n");
	struct config *cfg = config_new(dir);
	struct service_def *v;
	char err[512];
	size_t n;

	cr_assert_eq(master_conf_load(cfg, dir, &v, &n, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "line 4: duplicate service \"local\""),
	    "%s", err);
	cr_assert_not_null(strstr(err, "line 2"), "%s", err);

	config_set(cfg, "default_process_limit", "-1");
	cr_assert_eq(master_conf_load(cfg, dir, &v, &n, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "default_process_limit"), "%s", err);
	config_set(cfg, "default_process_limit", "lots");
	cr_assert_eq(master_conf_load(cfg, dir, &v, &n, err, sizeof(err)), -1);
	config_free(cfg);
	conf_dir_remove(dir);
}

Test(master_conf, load_missing_file)
{
	char *dir = conf_dir_with(NULL);
	struct config *cfg = config_new(dir);
	struct service_def *v;
	char err[512];
	size_t n;

	cr_assert_eq(master_conf_load(cfg, dir, &v, &n, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "master.cf"), "%s", err);
	config_free(cfg);
	conf_dir_remove(dir);
}

static int
resolve(struct config *cfg, const char *name, struct addrinfo **res,
    int *wildcard, char *err, size_t errlen)
{
	struct service_def d = def_make(name, SERVICE_INET, 0);

	d.lineno = 9;
	return master_conf_resolve(cfg, &d, "master.cf", res, wildcard, err,
	    errlen);
}

static int
ai_port(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET)
		return ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port);
	return ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port);
}

Test(master_conf, resolve_endpoints)
{
	struct config *cfg = config_new("/nonexistent");
	struct addrinfo *res;
	char err[512];
	int wildcard;

	cr_assert_eq(resolve(cfg, "127.0.0.1:2525", &res, &wildcard, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert(!wildcard);
	cr_assert_eq(res->ai_family, AF_INET);
	cr_assert_eq(ai_port(res), 2525);
	freeaddrinfo(res);

	cr_assert_eq(resolve(cfg, "[::1]:2526", &res, &wildcard, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(res->ai_family, AF_INET6);
	cr_assert_eq(ai_port(res), 2526);
	freeaddrinfo(res);

	cr_assert_eq(resolve(cfg, "smtp", &res, &wildcard, err, sizeof(err)),
	    0, "%s", err);
	cr_assert(wildcard, "no host and inet_interfaces = all");
	cr_assert_eq(ai_port(res), 25, "port names resolve");
	freeaddrinfo(res);

	config_set(cfg, "inet_interfaces", "loopback-only");
	cr_assert_eq(resolve(cfg, "2527", &res, &wildcard, err, sizeof(err)),
	    0, "%s", err);
	cr_assert(!wildcard);
	cr_assert_eq(res->ai_family, AF_INET);
	freeaddrinfo(res);
	config_free(cfg);
}

Test(master_conf, resolve_rejects_bad_endpoints)
{
	struct config *cfg = config_new("/nonexistent");
	struct addrinfo *res;
	char err[512];
	int wildcard;

	cr_assert_eq(resolve(cfg, "127.0.0.1:nosuchport", &res, &wildcard,
	    err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "master.cf, line 9"), "%s", err);
	cr_assert_not_null(strstr(err, "unknown port"), "%s", err);
	cr_assert_eq(resolve(cfg, "127.0.0.1:99999", &res, &wildcard, err,
	    sizeof(err)), -1, "65535 is the largest port");
	cr_assert_not_null(strstr(err, "too large"), "%s", err);
	cr_assert_eq(resolve(cfg, "0", &res, &wildcard, err, sizeof(err)), -1,
	    "port 0 would bind a random port");
	cr_assert_eq(resolve(cfg, "[::1]2525", &res, &wildcard, err,
	    sizeof(err)), -1, "missing colon after ]");
	cr_assert_eq(resolve(cfg, "127.0.0.1:", &res, &wildcard, err,
	    sizeof(err)), -1, "empty port");
	config_set(cfg, "inet_interfaces", "127.0.0.1, 192.0.2.1");
	cr_assert_eq(resolve(cfg, "2525", &res, &wildcard, err, sizeof(err)),
	    -1);
	cr_assert_not_null(strstr(err, "inet_interfaces"), "%s", err);
	config_free(cfg);
}
