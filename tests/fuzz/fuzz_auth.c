/*
 * fuzz_auth: lib/auth's parsers of client input. base64_decode is strict,
 * so whatever it accepts encodes back to exactly the same text; encoding
 * then decoding gives the bytes back; sasl_plain_parse's fields stay within
 * their limits, are never empty and hold no NUL or upper-case ASCII user.
 */
#include <assert.h>
#include <string.h>

#include "auth/auth.h"
#include "fuzz.h"

#define FUZZ_AUTH_MAX	4096

const char fuzz_target_name[] = "auth";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static unsigned char dec[FUZZ_AUTH_MAX], back[FUZZ_AUTH_MAX];
	static char enc[FUZZ_AUTH_MAX / 3 * 4 + 8];
	char user[AUTH_USER_MAX + 1], pass[AUTH_PASS_MAX + 1];
	long n, m;
	size_t i;

	if (len > FUZZ_AUTH_MAX)
		len = FUZZ_AUTH_MAX;
	n = base64_decode((const char *)data, len, dec, sizeof(dec));
	if (n >= 0) {
		assert((size_t)n <= len / 4 * 3);
		m = base64_encode(dec, (size_t)n, enc, sizeof(enc));
		assert(m == (long)len && memcmp(enc, data, len) == 0);
	}
	/* The other way round, with the input as the bytes. */
	if (len <= FUZZ_AUTH_MAX / 2) {
		m = base64_encode(data, len, enc, sizeof(enc));
		assert(m >= 0 && (size_t)m == (len + 2) / 3 * 4);
		assert(strlen(enc) == (size_t)m);
		n = base64_decode(enc, (size_t)m, back, sizeof(back));
		assert(n == (long)len && memcmp(back, data, len) == 0);
		/* One byte short of room: refused, not truncated. */
		if (len > 0)
			assert(base64_decode(enc, (size_t)m, back, len - 1) ==
			    -1);
	}
	if (sasl_plain_parse(data, len, user, pass) == 0) {
		assert(len <= AUTH_SASL_MAX);
		assert(user[0] != '\0' && strlen(user) <= AUTH_USER_MAX);
		assert(pass[0] != '\0' && strlen(pass) <= AUTH_PASS_MAX);
		for (i = 0; user[i] != '\0'; i++)
			assert(!(user[i] >= 'A' && user[i] <= 'Z'));
		assert(memchr(data, '\0', len) != NULL);
	} else {
		assert(user[0] == '\0' && pass[0] == '\0');
	}
	return 0;
}
