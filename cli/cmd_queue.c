/*
 * cmd_queue: postqueue's and postsuper's jobs. `queue [-j]` lists the
 * queue (mailq format, or Postfix's postqueue -j JSON lines), `queue show
 * ID`, `queue delete|hold|release|requeue|expire|flush ID...|ALL|-` and
 * `flush`. Everything goes through qmgr on public/qmgr, which does the
 * work itself (see qmgr/qmgr_admin.c for why that is safe while deliveries
 * run) and checks our credentials: list and flush for root, the mail
 * owner and setgid_group; show and the changes for root and the owner.
 * Parameters: queue_directory.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "ipc/ipc.h"
#include "queue/queue.h"

#define QUEUE_EX_UNAVAILABLE	69	/* sysexits.h EX_UNAVAILABLE */
#define QUEUE_REPLY_TIMEOUT	60
#define QUEUE_STDIN_LINE	256

struct queue_totals {
	long long bytes;
	long long count;
};

static int queue_connect(struct config *);
static int queue_request(struct config *, struct ipc_msg *, int,
    struct queue_totals *, int);
static void queue_print_mailq(const struct ipc_msg *, struct queue_totals *);
static void queue_print_json(const struct ipc_msg *);
static void queue_json_string(const char *);
static void queue_print_show(const struct ipc_msg *, int);
static int queue_list(struct config *, int);
static int queue_show(struct config *, const char *);
static int queue_op(struct config *, const char *, int, char **);
static int queue_ids_stdin(struct ipc_msg *);
static const char *queue_op_done(const char *);

static int
queue_connect(struct config *cfg)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/qmgr",
	    config_get(cfg, "queue_directory")) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "postilion: queue_directory too long\n");
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "postilion: fatal: queue unavailable - %s: %s\n",
		    errno == EACCES ? "permission denied" :
		    "mail system is down", sun.sun_path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send one command and print each reply frame as mode asks (0 mailq, 1
 * JSON, 2 show); the last frame has "status". Returns the exit status.
 */
static int
queue_request(struct config *cfg, struct ipc_msg *req, int mode,
    struct queue_totals *tot, int first)
{
	struct ipc_msg m;
	const char *status, *reason;
	int fd, rc = QUEUE_EX_UNAVAILABLE, nframe = 0;

	if ((fd = queue_connect(cfg)) == -1)
		return QUEUE_EX_UNAVAILABLE;
	if (ipc_send(fd, req, -1) == -1) {
		fprintf(stderr, "postilion: send to qmgr: %s\n", strerror(errno));
		close(fd);
		return QUEUE_EX_UNAVAILABLE;
	}
	ipc_msg_init(&m);
	while (ipc_recv(fd, &m, NULL, QUEUE_REPLY_TIMEOUT) == 1) {
		if ((status = ipc_get(&m, "status")) != NULL) {
			reason = ipc_get(&m, "reason");
			if (strcmp(status, "ok") == 0) {
				rc = 0;
				if (tot != NULL && ipc_get(&m, "count"))
					tot->count = ipc_get_int(&m, "count");
			} else {
				fprintf(stderr, "postilion: %s\n", reason ?
				    reason : status);
				rc = 1;
			}
			break;
		}
		if (mode == 1)
			queue_print_json(&m);
		else if (mode == 2)
			queue_print_show(&m, nframe == 0);
		else {
			if (first && tot->count == 0)
				printf("%-12s %8s %-20s %s\n", "-Queue ID-",
				    "--Size--", "----Arrival Time----",
				    "-Sender/Recipient-------");
			queue_print_mailq(&m, tot);
		}
		nframe++;
	}
	if (rc == QUEUE_EX_UNAVAILABLE)
		fprintf(stderr, "postilion: no complete answer from qmgr\n");
	ipc_msg_free(&m);
	close(fd);
	return rc;
}

static void
queue_print_mailq(const struct ipc_msg *m, struct queue_totals *tot)
{
	const char *name, *value, *dir = ipc_get(m, "queue_name");
	const char *sender = ipc_get(m, "sender");
	char idbuf[QUEUE_ID_MAX + 2], when[64];
	long long size = ipc_get_int(m, "message_size");
	time_t arrival = (time_t)ipc_get_int(m, "arrival_time");
	struct tm tm;
	size_t pos = 0;

	snprintf(idbuf, sizeof(idbuf), "%s%s", ipc_get(m, "queue_id"),
	    dir == NULL ? "" : !strcmp(dir, "active") ? "*" :
	    !strcmp(dir, "hold") ? "!" : "");
	localtime_r(&arrival, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
	printf("%-12s %8lld %-20s %s\n", idbuf, size < 0 ? 0 : size, when,
	    sender == NULL || *sender == '\0' ? "MAILER-DAEMON" : sender);
	while (ipc_next(m, &pos, &name, &value)) {
		if (!strcmp(name, "delay_reason"))
			printf("(%s)\n", value);
		else if (!strcmp(name, "address"))
			printf("%43s%s\n", "", value);
	}
	printf("\n");
	tot->bytes += size < 0 ? 0 : size;
	tot->count++;
}

static void
queue_json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* Postfix's postqueue -j: one object per message, its field names. */
static void
queue_print_json(const struct ipc_msg *m)
{
	const char *name, *value;
	size_t pos = 0;
	int nrcpt = 0;

	printf("{\"queue_name\": ");
	queue_json_string(ipc_get(m, "queue_name"));
	printf(", \"queue_id\": ");
	queue_json_string(ipc_get(m, "queue_id"));
	printf(", \"arrival_time\": %lld, \"message_size\": %lld, "
	    "\"forced_expire\": %s, \"sender\": ", ipc_get_int(m, "arrival_time"),
	    ipc_get_int(m, "message_size"),
	    !strcmp(ipc_get(m, "forced_expire"), "true") ? "true" : "false");
	queue_json_string(ipc_get(m, "sender"));
	printf(", \"recipients\": [");
	while (ipc_next(m, &pos, &name, &value)) {
		if (!strcmp(name, "address")) {
			printf("%s{\"address\": ", nrcpt++ ? "}, " : "");
			queue_json_string(value);
		} else if (!strcmp(name, "orig_address") ||
		    !strcmp(name, "delay_reason")) {
			printf(", \"%s\": ", name);
			queue_json_string(value);
		}
	}
	printf("%s]}\n", nrcpt ? "}" : "");
}

/* postcat's shape: envelope records, then the message. */
static void
queue_print_show(const struct ipc_msg *m, int first)
{
	const char *name, *value, *text;
	char when[64];
	time_t arrival;
	size_t pos = 0;
	struct tm tm;

	if ((text = ipc_get(m, "text")) != NULL) {
		fputs(text, stdout);
		return;
	}
	if (!first)
		return;
	arrival = (time_t)ipc_get_int(m, "arrival_time");
	localtime_r(&arrival, &tm);
	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
	printf("*** ENVELOPE RECORDS %s/%s ***\nmessage_size: %lld\n"
	    "message_arrival_time: %s\nforced_expire: %s\nsender: %s\n",
	    ipc_get(m, "queue_name"), ipc_get(m, "queue_id"),
	    ipc_get_int(m, "message_size"), when, ipc_get(m, "forced_expire"),
	    ipc_get(m, "sender"));
	while (ipc_next(m, &pos, &name, &value))
		if (!strcmp(name, "address"))
			printf("recipient: %s\n", value);
		else if (!strcmp(name, "orig_address"))
			printf("original_recipient: %s\n", value);
		else if (!strcmp(name, "delay_reason"))
			printf("delay_reason: %s\n", value);
	printf("*** MESSAGE CONTENTS %s/%s ***\n", ipc_get(m, "queue_name"),
	    ipc_get(m, "queue_id"));
}

static int
queue_list(struct config *cfg, int json)
{
	struct queue_totals tot = { 0, 0 };
	struct ipc_msg req;
	int rc;

	ipc_msg_init(&req);
	ipc_put(&req, "cmd", "list");
	rc = queue_request(cfg, &req, json, &tot, 1);
	ipc_msg_free(&req);
	if (rc == 0 && !json) {
		if (tot.count == 0)
			printf("Mail queue is empty\n");
		else
			printf("-- %lld Kbytes in %lld Request%s.\n",
			    (tot.bytes + 1023) / 1024, tot.count,
			    tot.count == 1 ? "" : "s");
	}
	return rc;
}

static int
queue_show(struct config *cfg, const char *id)
{
	struct ipc_msg req;
	int rc;

	if (!queue_id_valid(id)) {
		fprintf(stderr, "postilion: bad queue ID: %s\n", id);
		return 1;
	}
	ipc_msg_init(&req);
	ipc_put(&req, "cmd", "show");
	ipc_put(&req, "id", id);
	rc = queue_request(cfg, &req, 2, NULL, 1);
	ipc_msg_free(&req);
	if (rc == 0)
		printf("*** MESSAGE FILE END ***\n");
	return rc;
}

/* "-": one queue ID per line on standard input (postsuper -d -). */
static int
queue_ids_stdin(struct ipc_msg *req)
{
	char line[QUEUE_STDIN_LINE];
	size_t len;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		len = strcspn(line, " \t\r\n");
		line[len] = '\0';
		if (len == 0)
			continue;
		if (!queue_id_valid(line)) {
			fprintf(stderr, "postilion: bad queue ID: %s\n", line);
			return -1;
		}
		ipc_put(req, "id", line);
	}
	return 0;
}

/* postsuper's summary words. */
static const char *
queue_op_done(const char *op)
{
	if (!strcmp(op, "delete"))
		return "Deleted";
	if (!strcmp(op, "hold"))
		return "Placed on hold";
	if (!strcmp(op, "release"))
		return "Released from hold";
	if (!strcmp(op, "requeue"))
		return "Requeued";
	return "Expired";
}

static int
queue_op(struct config *cfg, const char *op, int argc, char **argv)
{
	struct queue_totals tot = { 0, 0 };
	struct ipc_msg req;
	int i, rc;

	ipc_msg_init(&req);
	ipc_put(&req, "cmd", op);
	if (argc == 0 && strcmp(op, "flush") == 0)
		ipc_put(&req, "all", "1");
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "ALL") == 0)
			ipc_put(&req, "all", "1");
		else if (strcmp(argv[i], "-") == 0) {
			if (queue_ids_stdin(&req) == -1) {
				ipc_msg_free(&req);
				return 1;
			}
		} else if (queue_id_valid(argv[i]))
			ipc_put(&req, "id", argv[i]);
		else {
			fprintf(stderr, "postilion: bad queue ID: %s\n", argv[i]);
			ipc_msg_free(&req);
			return 1;
		}
	}
	rc = queue_request(cfg, &req, 0, &tot, 0);
	ipc_msg_free(&req);
	if (rc == 0 && strcmp(op, "flush") != 0)
		fprintf(stderr, "postilion: %s: %lld message%s\n",
		    queue_op_done(op), tot.count, tot.count == 1 ? "" : "s");
	return rc;
}

int
cmd_queue(struct config *cfg, int argc, char **argv)
{
	static const char *const ops[] = { "delete", "hold", "release",
	    "requeue", "expire", "flush", NULL };
	size_t i;

	if (strcmp(argv[0], "flush") == 0)
		return queue_op(cfg, "flush", argc - 1, argv + 1);
	if (argc == 1)
		return queue_list(cfg, 0);
	if (argc == 2 && strcmp(argv[1], "-j") == 0)
		return queue_list(cfg, 1);
	if (argc == 2 && strcmp(argv[1], "-p") == 0)
		return queue_list(cfg, 0);
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return queue_show(cfg, argv[2]);
	for (i = 0; ops[i] != NULL; i++)
		if (strcmp(argv[1], ops[i]) == 0)
			break;
	if (ops[i] == NULL || (argc < 3 && strcmp(argv[1], "flush") != 0)) {
		fprintf(stderr, "usage: postilion queue [-j]\n"
		    "       postilion queue show ID\n"
		    "       postilion queue delete|hold|release|requeue|expire|"
		    "flush ID...|ALL|-\n");
		return 1;
	}
	return queue_op(cfg, ops[i], argc - 2, argv + 2);
}
