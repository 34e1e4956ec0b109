/*
 * pop3d: not implemented yet.
 */
#include <stdlib.h>

#include "core/log.h"
#include "ipc/service.h"

int
main(int argc, char *argv[])
{
	struct service_opts opts;

	service_init(argc, argv, "pop3d", &opts);
	log_warnx("pop3d: not implemented");
	return 1;
}
