/*
 * imapd: not implemented yet.
 */
#include <stdlib.h>

#include "core/log.h"
#include "ipc/service.h"

int
main(int argc, char *argv[])
{
	struct service_opts opts;

	service_init(argc, argv, "imapd", &opts);
	log_warnx("imapd: not implemented");
	return 1;
}
