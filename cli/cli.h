/*
 * cli: the subcommands of postilion(8), one file per family. Each takes the
 * loaded configuration and its own argv (argv[0] is the subcommand word)
 * and returns the process exit status.
 */
#ifndef POSTILION_CLI_H
#define POSTILION_CLI_H

#include "conf/config.h"

/* cmd_master.c: start, start-fg, stop, status, reload, check */
int	cmd_master(struct config *, const char *confdir, int argc, char **argv);
/* cmd_map.c: map build|query */
int	cmd_map(struct config *, int argc, char **argv);
/* cmd_user.c: user add|list */
int	cmd_user(struct config *, int argc, char **argv);
/* cmd_queue.c: queue [-j], queue show|delete|hold|release|requeue|expire|flush, flush */
int	cmd_queue(struct config *, int argc, char **argv);
/* cmd_sendmail.c: sendmail(1), argv as given to the program */
int	cmd_sendmail(int argc, char **argv);
/* cmd_config.c: config [-n|-d] [-x] [name...] (postconf) */
int	cmd_config(struct config *, int argc, char **argv);

#endif
