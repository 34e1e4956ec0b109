/*
 * smtpd: not implemented yet.
 */
#include <stdlib.h>

#include "core/log.h"
#include "ipc/service.h"

int
main(int argc, char *argv[])
{
	struct service_opts opts;

	service_init(argc, argv, "smtpd", &opts);
	log_warnx("smtpd: not implemented");
	return 1;
}
