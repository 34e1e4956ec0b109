/*
 * test_deliver_proto: qmgr <-> deliver request/reply codec, incremental
 * frame reassembly, Postfix's delay format and the to= log line.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "ipc/deliver_proto.h"

static void
sample_request(struct deliver_request *req)
{
	memset(req, 0, sizeof(*req));
	req->queue_id = strdup("8A1C5200F3D");
	req->sender = strdup("alice@example.org");
	req->arrival.tv_sec = 1700000000;
	req->arrival.tv_usec = 120000;
	req->active.tv_sec = 1700000000;
	req->active.tv_usec = 240000;
	req->content_offset = 123;
	req->content_len = 4567;
	deliver_request_add_rcpt(req, "bob@example.com", "rfc822;Bob@example.com");
	deliver_request_add_rcpt(req, "carol@example.com", NULL);
}

Test(deliver_proto, request_round_trip)
{
	struct deliver_request req, out;
	struct ipc_msg m;
	char err[256];

	sample_request(&req);
	ipc_msg_init(&m);
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_str_eq(out.queue_id, "8A1C5200F3D");
	cr_assert_str_eq(out.sender, "alice@example.org");
	cr_assert_eq(out.arrival.tv_sec, 1700000000);
	cr_assert_eq(out.arrival.tv_usec, 120000);
	cr_assert_eq(out.active.tv_usec, 240000);
	cr_assert_eq(out.content_offset, 123);
	cr_assert_eq(out.content_len, 4567);
	cr_assert_eq(out.nrcpts, 2);
	cr_assert_str_eq(out.rcpts[0].address, "bob@example.com");
	cr_assert_str_eq(out.rcpts[0].orcpt, "rfc822;Bob@example.com");
	cr_assert_str_eq(out.rcpts[1].address, "carol@example.com");
	cr_assert_null(out.rcpts[1].orcpt, "orcpt must not leak to the next");
	deliver_request_free(&out);
	/* Over the recipient limit: refused. */
	cr_assert_eq(deliver_request_decode(&m, &out, 1, err, sizeof(err)), -1);
	deliver_request_free(&req);
	ipc_msg_free(&m);
}

static int
decode_with(const char *drop, const char *name, const char *value)
{
	struct deliver_request req, out;
	struct ipc_msg m, bad;
	const char *n, *v;
	size_t pos = 0;
	char err[256];
	int rc, replaced = 0;

	sample_request(&req);
	ipc_msg_init(&m);
	ipc_msg_init(&bad);
	deliver_request_encode(&req, &m);
	while (ipc_next(&m, &pos, &n, &v)) {
		if (drop && !strcmp(n, drop)) {
			if (name && !replaced++)
				ipc_put(&bad, name, value);
			continue;
		}
		ipc_put(&bad, n, v);
	}
	if (!drop && name)
		ipc_put(&bad, name, value);
	rc = deliver_request_decode(&bad, &out, 10, err, sizeof(err));
	if (rc == 0)
		deliver_request_free(&out);
	deliver_request_free(&req);
	ipc_msg_free(&m);
	ipc_msg_free(&bad);
	return rc;
}

Test(deliver_proto, request_hostile_fields_refused)
{
	cr_assert_eq(decode_with(NULL, NULL, NULL), 0);
	cr_assert_eq(decode_with("queue_id", NULL, NULL), -1);
	cr_assert_eq(decode_with("queue_id", "queue_id", "../../etc"), -1);
	cr_assert_eq(decode_with("sender", NULL, NULL), -1);
	cr_assert_eq(decode_with("arrival_time", "arrival_time", "12"), -1);
	cr_assert_eq(decode_with("arrival_time", "arrival_time", "12.5"), -1);
	cr_assert_eq(decode_with("arrival_time", "arrival_time", "x.000000"), -1);
	cr_assert_eq(decode_with("active_time", "active_time", "-1.000000"), -1);
	cr_assert_eq(decode_with("content_offset", "content_offset", "-5"), -1);
	cr_assert_eq(decode_with("content_len", NULL, NULL), -1);
	cr_assert_eq(decode_with("nrcpt", "nrcpt", "3"), -1);
	cr_assert_eq(decode_with("nrcpt", "nrcpt", "1"), -1);
	cr_assert_eq(decode_with("nrcpt", "nrcpt", "0"), -1);
	cr_assert_eq(decode_with(NULL, "rcpt", "extra@example.com"), -1);
	cr_assert_eq(decode_with("rcpt", "rcpt", ""), -1);
}

Test(deliver_proto, reply_round_trip_and_hostile)
{
	struct deliver_request req;
	struct ipc_msg m;
	char err[256];

	sample_request(&req);
	deliver_rcpt_set(&req.rcpts[0], "2.0.0", "delivered to %s", "maildir");
	deliver_rcpt_set(&req.rcpts[1], "5.1.1", "unknown user: \"%s\"",
	    req.rcpts[1].address);
	ipc_msg_init(&m);
	deliver_reply_encode(&req, &m);
	free(req.rcpts[0].reason);
	free(req.rcpts[1].reason);
	req.rcpts[0].reason = req.rcpts[1].reason = NULL;
	req.rcpts[0].dsn[0] = req.rcpts[1].dsn[0] = '\0';
	cr_assert_eq(deliver_reply_decode(&m, &req, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_str_eq(req.rcpts[0].dsn, "2.0.0");
	cr_assert_str_eq(req.rcpts[0].reason, "delivered to maildir");
	cr_assert_str_eq(req.rcpts[1].dsn, "5.1.1");
	cr_assert_str_eq(req.rcpts[1].reason,
	    "unknown user: \"carol@example.com\"");

	ipc_msg_reset(&m);
	ipc_put(&m, "nrcpt", "2");
	ipc_put(&m, "dsn", "2.0.0");
	ipc_put(&m, "reason", "ok");
	cr_assert_eq(deliver_reply_decode(&m, &req, err, sizeof(err)), -1,
	    "one status for two recipients");
	ipc_put(&m, "reason", "reason before dsn");
	cr_assert_eq(deliver_reply_decode(&m, &req, err, sizeof(err)), -1);
	ipc_msg_reset(&m);
	ipc_put(&m, "nrcpt", "2");
	ipc_put(&m, "dsn", "2.0.0");
	ipc_put(&m, "reason", "ok");
	ipc_put(&m, "dsn", "3.0.0");
	ipc_put(&m, "reason", "bad class");
	cr_assert_eq(deliver_reply_decode(&m, &req, err, sizeof(err)), -1);
	ipc_msg_reset(&m);
	ipc_put(&m, "nrcpt", "3");
	cr_assert_eq(deliver_reply_decode(&m, &req, err, sizeof(err)), -1);
	deliver_request_free(&req);
	ipc_msg_free(&m);
}

Test(deliver_proto, dsn_syntax)
{
	cr_assert(deliver_dsn_valid("2.0.0"));
	cr_assert(deliver_dsn_valid("4.4.1"));
	cr_assert(deliver_dsn_valid("5.123.999"));
	cr_assert_not(deliver_dsn_valid("3.0.0"));
	cr_assert_not(deliver_dsn_valid("2.0"));
	cr_assert_not(deliver_dsn_valid("2.0.0 "));
	cr_assert_not(deliver_dsn_valid("2..0"));
	cr_assert_not(deliver_dsn_valid("2.1234.0"));
	cr_assert_not(deliver_dsn_valid(""));
}

Test(deliver_proto, frame_reassembly_byte_by_byte)
{
	struct ipc_msg m, out;
	struct buf wire, in;
	unsigned char hdr[4];
	size_t i, len;

	ipc_msg_init(&m);
	ipc_msg_init(&out);
	ipc_put(&m, "nrcpt", "1");
	ipc_put(&m, "dsn", "2.0.0");
	len = m.body.len;
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	buf_init(&wire);
	buf_append(&wire, hdr, 4);
	buf_append(&wire, m.body.data, len);
	buf_append(&wire, hdr, 4);	/* a second frame right behind */
	buf_append(&wire, m.body.data, len);
	buf_init(&in);
	for (i = 0; i < len + 4 - 1; i++) {
		buf_append(&in, wire.data + i, 1);
		cr_assert_eq(deliver_frame_take(&in, &out), 0, "at byte %zu", i);
	}
	buf_append(&in, wire.data + i, wire.len - i);
	cr_assert_eq(deliver_frame_take(&in, &out), 1);
	cr_assert_str_eq(ipc_get(&out, "dsn"), "2.0.0");
	cr_assert_eq(in.len, len + 4);
	cr_assert_eq(deliver_frame_take(&in, &out), 1);
	cr_assert_eq(in.len, 0);

	/* Oversized length and a dangling name are malformed. */
	buf_reset(&in);
	buf_append(&in, "\x7f\xff\xff\xff", 4);
	cr_assert_eq(deliver_frame_take(&in, &out), -1);
	buf_reset(&in);
	buf_append(&in, "\0\0\0\2a\0", 6);
	cr_assert_eq(deliver_frame_take(&in, &out), -1);
	buf_reset(&in);
	buf_append(&in, "\0\0\0\3a\0b", 7);
	cr_assert_eq(deliver_frame_take(&in, &out), -1);
	buf_free(&in);
	buf_free(&wire);
	ipc_msg_free(&m);
	ipc_msg_free(&out);
}

static void
check_delay(long long usec, const char *expect)
{
	struct buf b;

	buf_init(&b);
	deliver_format_delay(&b, usec);
	cr_assert_str_eq(b.data, expect, "%lld us -> %s, want %s", usec,
	    b.data, expect);
	buf_free(&b);
}

Test(deliver_proto, delay_format_matches_postfix)
{
	check_delay(0, "0");
	check_delay(-5, "0");
	check_delay(4999, "0");
	check_delay(5000, "0.01");
	check_delay(80000, "0.08");
	check_delay(100000, "0.1");
	check_delay(120000, "0.12");
	check_delay(210000, "0.21");
	check_delay(994999, "0.99");
	check_delay(995000, "1");
	check_delay(1000000, "1");
	check_delay(1049999, "1");
	check_delay(1050000, "1.1");
	check_delay(1400000, "1.4");
	check_delay(9940000, "9.9");
	check_delay(9960000, "10");
	check_delay(12345678, "12");
	check_delay(99500000, "100");
	check_delay(4000400000LL, "4000");
}

Test(deliver_proto, log_line_shape)
{
	char path[] = "/tmp/test_deliver_proto_log.XXXXXX";
	struct deliver_request req;
	struct timeval start;
	regex_t re;
	char *text;
	int fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	log_init("postilion", "local", path, 0);
	sample_request(&req);
	gettimeofday(&start, NULL);
	req.arrival = start;
	req.arrival.tv_sec -= 2;
	req.active = start;
	req.active.tv_sec -= 1;
	deliver_rcpt_set(&req.rcpts[0], "2.0.0", "delivered to maildir");
	deliver_log_status(&req, &req.rcpts[0], "local", &start, &start);
	deliver_rcpt_set(&req.rcpts[1], "4.3.0", "smtp transport not yet "
	    "implemented");
	deliver_log_status(&req, &req.rcpts[1], "none", &start, &start);
	deliver_rcpt_set(&req.rcpts[1], "5.1.1", "unknown user: \"x\"");
	deliver_log_status(&req, &req.rcpts[1], "local", &start, &start);
	text = read_file(path, NULL, 1 << 20);
	cr_assert_not_null(text);
	cr_assert_eq(regcomp(&re, "postilion/local\\[[0-9]+\\]: 8A1C5200F3D: "
	    "to=<bob@example\\.com>, relay=local, delay=2(\\.[0-9])?, "
	    "delays=1(\\.[0-9])?/1(\\.[0-9])?/0/0(\\.0[0-9])?, dsn=2\\.0\\.0, "
	    "status=sent \\(delivered to maildir\\)\n", REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "got: %s", text);
	regfree(&re);
	cr_assert(strstr(text, "orig_to=") == NULL,
	    "orig_to only when it differs (case-insensitive): %s", text);
	cr_assert(strstr(text, "to=<carol@example.com>, relay=none, delay=")
	    != NULL, "%s", text);
	cr_assert(strstr(text, ", dsn=4.3.0, status=deferred (smtp transport "
	    "not yet implemented)\n") != NULL, "%s", text);
	cr_assert(strstr(text, ", dsn=5.1.1, status=bounced (unknown user: "
	    "\"x\")\n") != NULL, "%s", text);
	free(text);
	deliver_request_free(&req);
	unlink(path);
}

Test(deliver_proto, orig_to_when_different)
{
	char path[] = "/tmp/test_deliver_proto_log.XXXXXX";
	struct deliver_request req;
	struct timeval now;
	char *text;
	int fd;

	fd = mkstemp(path);
	close(fd);
	log_init("postilion", "local", path, 0);
	sample_request(&req);
	free(req.rcpts[1].orcpt);
	req.rcpts[1].orcpt = strdup("rfc822;list@example.com");
	gettimeofday(&now, NULL);
	deliver_rcpt_set(&req.rcpts[1], "2.0.0", "delivered to maildir");
	deliver_log_status(&req, &req.rcpts[1], "local", &now, &now);
	text = read_file(path, NULL, 1 << 20);
	cr_assert(strstr(text, ": 8A1C5200F3D: to=<carol@example.com>, "
	    "orig_to=<list@example.com>, relay=local, delay=") != NULL, "%s",
	    text);
	free(text);
	deliver_request_free(&req);
	unlink(path);
}

Test(deliver_proto, nexthop_round_trip_and_optional)
{
	struct deliver_request req, out;
	struct ipc_msg m;
	char err[256];

	sample_request(&req);
	ipc_msg_init(&m);
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), 0);
	cr_assert_null(out.nexthop, "no nexthop means the agent's default");
	deliver_request_free(&out);
	req.nexthop = strdup("[192.0.2.7]:2525");
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), 0);
	cr_assert_str_eq(out.nexthop, "[192.0.2.7]:2525");
	deliver_request_free(&out);
	deliver_request_free(&req);
	ipc_msg_free(&m);
}

Test(deliver_proto, rcpt_offset_round_trip_optional_and_checked)
{
	struct deliver_request req, out;
	struct ipc_msg m;
	char err[256];

	sample_request(&req);
	cr_assert_eq(req.rcpts[0].offset, -1, "no offset until qmgr sets it");
	req.rcpts[1].offset = 4242;
	ipc_msg_init(&m);
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(out.rcpts[0].offset, -1, "offset must not leak backwards");
	cr_assert_eq(out.rcpts[1].offset, 4242);
	deliver_request_free(&out);
	/* Hostile offsets: negative, inside the first header, not a number. */
	ipc_msg_reset(&m);
	ipc_put(&m, "queue_id", "8A1C5200F3D");
	ipc_put(&m, "sender", "");
	ipc_put(&m, "arrival_time", "1700000000.000000");
	ipc_put(&m, "active_time", "1700000000.000000");
	ipc_put_int(&m, "content_offset", 10);
	ipc_put_int(&m, "content_len", 10);
	ipc_put_int(&m, "nrcpt", 1);
	ipc_put(&m, "offset", "-1");
	ipc_put(&m, "rcpt", "bob@example.com");
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "bad recipient offset");
	deliver_request_free(&req);
	ipc_msg_free(&m);
}

/* A reply status list for the forward tests: pairs then extra pairs. */
static int
forward_reply(const char *const *pairs, struct deliver_request *req)
{
	struct ipc_msg m;
	char err[256];
	int rc;

	ipc_msg_init(&m);
	ipc_put_int(&m, "nrcpt", 2);
	for (; *pairs != NULL; pairs += 2)
		ipc_put(&m, pairs[0], pairs[1]);
	rc = deliver_reply_decode(&m, req, err, sizeof(err));
	ipc_msg_free(&m);
	return rc;
}

Test(deliver_proto, forward_round_trip_and_hostile_lists)
{
	static const char *const before_reason[] = { "dsn", "2.0.0",
	    "forward", "x@remote.test", "reason", "r", "dsn", "2.0.0",
	    "reason", "r", NULL };
	static const char *const on_a_bounce[] = { "dsn", "5.1.1",
	    "reason", "r", "forward", "x@remote.test", "dsn", "2.0.0",
	    "reason", "r", NULL };
	static const char *const control[] = { "dsn", "2.0.0", "reason", "r",
	    "forward", "x@remote.test\r\nRCPT TO:<evil>", "dsn", "2.0.0",
	    "reason", "r", NULL };
	static const char *const command[] = { "dsn", "2.0.0", "reason", "r",
	    "forward", "|/bin/sh", "dsn", "2.0.0", "reason", "r", NULL };
	static const char *const empty[] = { "dsn", "2.0.0", "reason", "r",
	    "forward", "", "dsn", "2.0.0", "reason", "r", NULL };
	struct deliver_request req, out;
	struct ipc_msg m;
	char err[256], addr[DELIVER_FORWARD_LEN + 8];
	size_t i;

	sample_request(&req);
	deliver_rcpt_set(&req.rcpts[0], "2.0.0", "delivered to 2 alias "
	    "destinations");
	deliver_rcpt_add_forward(&req.rcpts[0], "b@remote.test");
	deliver_rcpt_add_forward(&req.rcpts[0], "c@remote.test");
	deliver_rcpt_add_forward(&req.rcpts[0], "B@Remote.Test");
	cr_assert_eq(req.rcpts[0].nforward, 2, "duplicates are dropped");
	deliver_rcpt_set(&req.rcpts[1], "2.0.0", "delivered to maildir");
	ipc_msg_init(&m);
	deliver_reply_encode(&req, &m);
	sample_request(&out);
	cr_assert_eq(deliver_reply_decode(&m, &out, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(out.rcpts[0].nforward, 2);
	cr_assert_str_eq(out.rcpts[0].forward[0], "b@remote.test");
	cr_assert_str_eq(out.rcpts[0].forward[1], "c@remote.test");
	cr_assert_eq(out.rcpts[1].nforward, 0, "forwards stay with their rcpt");
	deliver_request_free(&out);
	ipc_msg_free(&m);
	deliver_request_free(&req);

	for (i = 0; i < 5; i++) {
		const char *const *list[] = { before_reason, on_a_bounce,
		    control, command, empty };

		sample_request(&out);
		cr_assert_eq(forward_reply(list[i], &out), -1, "case %zu", i);
		deliver_request_free(&out);
	}
	/* Over-long addresses and too many of them are refused. */
	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	{
		const char *const longone[] = { "dsn", "2.0.0", "reason", "r",
		    "forward", addr, "dsn", "2.0.0", "reason", "r", NULL };

		sample_request(&out);
		cr_assert_eq(forward_reply(longone, &out), -1);
		deliver_request_free(&out);
	}
	ipc_msg_init(&m);
	ipc_put_int(&m, "nrcpt", 2);
	ipc_put(&m, "dsn", "2.0.0");
	ipc_put(&m, "reason", "r");
	for (i = 0; i <= DELIVER_FORWARD_MAX; i++) {
		snprintf(addr, sizeof(addr), "u%zu@remote.test", i);
		ipc_put(&m, "forward", addr);
	}
	ipc_put(&m, "dsn", "2.0.0");
	ipc_put(&m, "reason", "r");
	sample_request(&out);
	cr_assert_eq(deliver_reply_decode(&m, &out, err, sizeof(err)), -1,
	    "more than DELIVER_FORWARD_MAX forwards");
	deliver_request_free(&out);
	ipc_msg_free(&m);
}

Test(deliver_proto, dsn_fields_round_trip_and_limits)
{
	struct deliver_request req, out;
	struct ipc_msg m;
	char err[256], big[DELIVER_ENVID_MAX + 2];

	sample_request(&req);
	req.rcpts[1].notify = strdup("SUCCESS,FAILURE");
	req.dsn_ret = strdup("HDRS");
	req.dsn_envid = strdup("env+id=1");
	ipc_msg_init(&m);
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_null(out.rcpts[0].notify, "NOTIFY belongs to its own rcpt");
	cr_assert_str_eq(out.rcpts[1].notify, "SUCCESS,FAILURE");
	cr_assert_str_eq(out.dsn_ret, "HDRS");
	cr_assert_str_eq(out.dsn_envid, "env+id=1");
	deliver_request_free(&out);
	/* Without them: all NULL. */
	free(req.dsn_ret);
	free(req.dsn_envid);
	free(req.rcpts[1].notify);
	req.dsn_ret = req.dsn_envid = req.rcpts[1].notify = NULL;
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), 0);
	cr_assert(out.dsn_ret == NULL && out.dsn_envid == NULL &&
	    out.rcpts[0].notify == NULL && out.rcpts[1].notify == NULL);
	deliver_request_free(&out);
	/* Over the limits or empty: refused. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	req.dsn_envid = strdup(big);
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), -1);
	free(req.dsn_envid);
	req.dsn_envid = NULL;
	req.dsn_ret = strdup("");
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), -1);
	free(req.dsn_ret);
	req.dsn_ret = NULL;
	req.rcpts[0].notify = strdup("SUCCESS,DELAY,FAILURE,SUCCESS,DELAY");
	deliver_request_encode(&req, &m);
	cr_assert_eq(deliver_request_decode(&m, &out, 10, err, sizeof(err)), -1);
	deliver_request_free(&req);
	ipc_msg_free(&m);
}
