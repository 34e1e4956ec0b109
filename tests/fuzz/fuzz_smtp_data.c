/*
 * fuzz_smtp_data: the DATA decoder fed whole and one byte at a time must
 * agree (output, end found, bytes consumed), and the BDAT decoder the
 * same, so no split of the input can change where a message ends.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proto/smtp_data.h"

const char fuzz_target_name[] = "smtp_data";

struct run {
	char	*out;
	size_t	 outlen;
	size_t	 consumed;
	int	 done;
};

static void data_run(const char *, size_t, size_t, struct run *,
    size_t (*)(struct smtp_data *, const char *, size_t, char *, size_t,
    size_t *));

static void
data_run(const char *in, size_t len, size_t piece, struct run *r,
    size_t (*decode)(struct smtp_data *, const char *, size_t, char *,
    size_t, size_t *))
{
	struct smtp_data d;
	size_t n, got, take;

	memset(r, 0, sizeof(*r));
	r->out = malloc(2 * len + 2);
	smtp_data_init(&d);
	while (r->consumed < len && !smtp_data_done(&d)) {
		take = len - r->consumed < piece ? len - r->consumed : piece;
		n = decode(&d, in + r->consumed, take, r->out + r->outlen, 
		    take + 2, &got);
		assert(got <= take + 2);
		r->outlen += got;
		r->consumed += n;
	}
	r->done = smtp_data_done(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *in = (const char *)data;
	struct run a, b;

	data_run(in, len, len ? len : 1, &a, smtp_data_decode);
	data_run(in, len, 1, &b, smtp_data_decode);
	assert(a.done == b.done && a.consumed == b.consumed);
	assert(a.outlen == b.outlen && memcmp(a.out, b.out, a.outlen) == 0);
	assert(a.outlen <= a.consumed);
	free(a.out);
	free(b.out);
	data_run(in, len, len ? len : 1, &a, smtp_bdat_decode);
	data_run(in, len, 1, &b, smtp_bdat_decode);
	assert(a.outlen == b.outlen && memcmp(a.out, b.out, a.outlen) == 0);
	free(a.out);
	free(b.out);
	return 0;
}
