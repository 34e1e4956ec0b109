/*
 * postilion: the administration command. `postilion [-c DIR] [-v] COMMAND`
 * dispatches to the cmd_*.c families; run under the names sendmail, mailq
 * or newaliases (links to this program) it plays those parts.
 * Config directory: -c, else $POSTILION_CONFIG_DIR, else SYSCONFDIR.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/log.h"


struct cli_command {
	const char *name;
	int	(*run)(struct config *, const char *, int, char **);
};

static int cli_master(struct config *, const char *, int, char **);
static int cli_config(struct config *, const char *, int, char **);
static int cli_map(struct config *, const char *, int, char **);
static int cli_user(struct config *, const char *, int, char **);
static int cli_queue(struct config *, const char *, int, char **);
static void cli_usage(FILE *);
static const char *cli_confdir(const char *);
static struct config *cli_config_load(const char *);
static int cli_sendmail(int, char **);
static int cli_mailq(int, char **);
static int cli_newaliases(const char *);

static const struct cli_command cli_commands[] = {
	{ "start", cli_master },
	{ "start-fg", cli_master },
	{ "stop", cli_master },
	{ "status", cli_master },
	{ "reload", cli_master },
	{ "check", cli_master },
	{ "config", cli_config },
	{ "map", cli_map },
	{ "user", cli_user },
	{ "queue", cli_queue },
	{ "flush", cli_queue },
};

static void
cli_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: postilion [-c config_dir] [-v] command [arguments]\n"
	    "commands:\n"
	    "  start              start the mail system\n"
	    "  start-fg           run the mail system in the foreground\n"
	    "  stop               stop the mail system\n"
	    "  status             tell whether the mail system is running\n"
	    "  reload             re-read main.cf and master.cf\n"
	    "  check              check main.cf, master.cf and the daemons\n"
	    "  config [-n|-d] [-x] [name ...]\n"
	    "                     print parameters (-n: set in main.cf, "
	    "-d: defaults,\n"
	    "                     -x: with $name expanded)\n"
	    "  map build [-a] [type:]file ...\n"
	    "  map query [type:]file key\n"
	    "  map dump [type:]file\n"
	    "                     lookup tables (postmap)\n"
	    "  user ...           mail accounts\n"
	    "  queue [-j]         list the mail queue (mailq; -j: JSON lines)\n"
	    "  queue show ID      a queued message with its envelope\n"
	    "  queue delete|hold|release|requeue|expire|flush ID...|ALL|-\n"
	    "                     act on queued messages (postsuper)\n"
	    "  flush              retry all deferred mail now\n"
	    "  help               this text\n"
	    "also installed as sendmail, mailq and newaliases.\n");
}

static int
cli_master(struct config *cfg, const char *confdir, int argc, char **argv)
{
	return cmd_master(cfg, confdir, argc, argv);
}

static int
cli_config(struct config *cfg, const char *confdir, int argc, char **argv)
{
	(void)confdir;
	return cmd_config(cfg, argc, argv);
}

static int
cli_map(struct config *cfg, const char *confdir, int argc, char **argv)
{
	(void)confdir;
	return cmd_map(cfg, argc, argv);
}

static int
cli_user(struct config *cfg, const char *confdir, int argc, char **argv)
{
	(void)confdir;
	return cmd_user(cfg, argc, argv);
}

static int
cli_queue(struct config *cfg, const char *confdir, int argc, char **argv)
{
	(void)confdir;
	return cmd_queue(cfg, argc, argv);
}

static const char *
cli_confdir(const char *given)
{
	const char *env;

	if (given != NULL)
		return given;
	if ((env = getenv("POSTILION_CONFIG_DIR")) != NULL && *env != '\0')
		return env;
	return SYSCONFDIR;
}

static struct config *
cli_config_load(const char *confdir)
{
	struct config *cfg;
	char err[1024];

	if ((cfg = config_load(confdir, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	log_init(config_get(cfg, "syslog_name"), NULL, NULL, 1);
	return cfg;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog, *confdir = NULL;
	struct config *cfg;
	size_t i;
	int ch, rc;

	prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	log_init("postilion", NULL, NULL, 1);
	if (strcmp(prog, "sendmail") == 0)
		return cli_sendmail(argc, argv);
	/* Installed setgid postdrop for sendmail: no other part keeps it. */
	if (getegid() != getgid() && setgid(getgid()) == -1)
		fatal("setgid");
	if (strcmp(prog, "mailq") == 0)
		return cli_mailq(argc, argv);
	if (strcmp(prog, "newaliases") == 0)
		return cli_newaliases(cli_confdir(NULL));

	while ((ch = getopt_long(argc, argv, "+c:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': confdir = optarg; break;
		case 'h': cli_usage(stdout); return 0;
		case 'v': log_verbose++; break;
		default: cli_usage(stderr); return 1;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		cli_usage(stderr);
		return 1;
	}
	if (strcmp(argv[0], "help") == 0) {
		cli_usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cli_commands) / sizeof(*cli_commands); i++)
		if (strcmp(argv[0], cli_commands[i].name) == 0)
			break;
	if (i == sizeof(cli_commands) / sizeof(*cli_commands)) {
		fprintf(stderr, "postilion: unknown command: %s\n", argv[0]);
		cli_usage(stderr);
		return 1;
	}
	confdir = cli_confdir(confdir);
	cfg = cli_config_load(confdir);
	rc = cli_commands[i].run(cfg, confdir, argc, argv);
	config_free(cfg);
	return rc;
}

/* cli_sendmail: -bi and -bp have their own parts; mail is cmd_sendmail's. */
static int
cli_sendmail(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-bi") == 0) {
			(void)!setgid(getgid());
			return cli_newaliases(cli_confdir(NULL));
		}
		if (strcmp(argv[i], "-bp") == 0) {
			(void)!setgid(getgid());
			return cli_mailq(argc, argv);
		}
	}
	return cmd_sendmail(argc, argv);
}

/* cli_mailq: `postilion queue` under its traditional name. */
static int
cli_mailq(int argc, char **argv)
{
	struct config *cfg;
	char *args[] = { "queue", NULL };
	int rc;

	(void)argc;
	(void)argv;
	cfg = cli_config_load(cli_confdir(NULL));
	rc = cmd_queue(cfg, 1, args);
	config_free(cfg);
	return rc;
}

/* cli_newaliases: `map build -a` each existing hash:/btree: alias_maps file. */
static int
cli_newaliases(const char *confdir)
{
	struct config *cfg;
	char **maps, *args[4];
	const char *file;
	size_t n, i;
	int rc = 0;

	cfg = cli_config_load(confdir);
	maps = config_split(config_get(cfg, "alias_maps"), &n);
	for (i = 0; i < n; i++) {
		if (strncmp(maps[i], "hash:", 5) == 0)
			file = maps[i] + 5;
		else if (strncmp(maps[i], "btree:", 6) == 0)
			file = maps[i] + 6;
		else
			continue;
		if (access(file, F_OK) == -1)
			continue;
		args[0] = "map";
		args[1] = "build";
		args[2] = "-a";
		args[3] = maps[i];
		if (cmd_map(cfg, 4, args) != 0)
			rc = 1;
	}
	config_split_free(maps);
	config_free(cfg);
	return rc;
}
