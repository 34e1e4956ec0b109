/*
 * fuzz_smtp_reply: the SMTP client's reply parser fed line by line (the
 * input split at LF): a finished reply has a code 200-599 and a matching
 * enhanced code, stored text is printable ASCII within its cap, and the
 * EHLO keyword check stays inside its buffers.
 */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "ipc/deliver_proto.h"
#include "proto/smtp_reply.h"

const char fuzz_target_name[] = "smtp_reply";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *p = (const char *)data, *end = p + len, *lf;
	struct smtp_reply r;
	char param[8] = "";
	size_t n, i;
	int rc;

	smtp_reply_init(&r, 20);
	while (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		n = lf ? (size_t)(lf - p) + 1 : (size_t)(end - p);
		(void)smtp_ehlo_keyword(p, n, "SIZE", param, sizeof(param));
		assert(strlen(param) < sizeof(param));
		rc = smtp_reply_feed(&r, p, n);
		assert(r.text.len <= SMTP_REPLY_TEXT_MAX);
		for (i = 0; i < r.text.len; i++)
			assert(r.text.data[i] >= 0x20 && r.text.data[i] < 0x7f);
		if (rc == SMTP_REPLY_DONE) {
			assert(r.code >= 200 && r.code <= 599);
			assert(r.dsn[0] == '0' + r.code / 100);
			if (r.code / 100 != 3)
				assert(deliver_dsn_valid(r.dsn));
		}
		if (rc != SMTP_REPLY_MORE)
			smtp_reply_reset(&r);
		p += n;
	}
	smtp_reply_free(&r);
	return 0;
}
