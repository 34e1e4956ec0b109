/*
 * fuzz_smtp_addr: a path "<...>" alone, an esmtp-param list, and xtext:
 * a decoded value never holds a control character, and encoding then
 * decoding gives the value back.
 */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "proto/smtp_addr.h"

const char fuzz_target_name[] = "smtp_addr";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *text = (const char *)data, *reason;
	char copy[1024], dec[1024], enc[3 * 1024 + 1], back[1024];
	struct smtp_params params;
	struct smtp_path path;
	size_t used, i, n;
	int rc;

	rc = smtp_path_parse(text, len, SMTP_ADDR_NULL_OK | SMTP_ADDR_UTF8,
	    &path, &used, &reason);
	assert(rc == SMTP_ADDR_OK ? used <= len : reason != NULL);
	(void)smtp_params_parse(text, len, &params, &reason);

	n = len < sizeof(copy) - 1 ? len : sizeof(copy) - 1;
	memcpy(copy, data, n);
	copy[n] = '\0';
	if (smtp_xtext_decode(copy, dec, sizeof(dec)) >= 0) {
		for (i = 0; dec[i]; i++)
			assert((unsigned char)dec[i] >= 0x20 &&
			    (unsigned char)dec[i] != 0x7f);
		assert(smtp_xtext_encode(dec, enc, sizeof(enc)) >= 0);
		assert(smtp_xtext_decode(enc, back, sizeof(back)) >= 0);
		assert(strcmp(dec, back) == 0);
	}
	return 0;
}
