/*
 * passwd: verify and make password hashes for virtual_password_maps.
 * crypt_rn() keeps its state in a buffer of ours, so it is reentrant.
 * Security: the stored value is never shown; the comparison time depends
 * only on the length of the password offered; buffers are wiped after use.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xmalloc.h"
#include "map/passwd.h"

#define PASSWD_SALT_LEN	16

struct passwd_scheme {
	const char *name;
	const char *prefix;	/* a crypt setting must start with this */
	int	 plain;
};

static const struct passwd_scheme passwd_schemes[] = {
	{ "SHA512-CRYPT", "$6$", 0 },
	{ "SHA256-CRYPT", "$5$", 0 },
	{ "BLF-CRYPT", "$2", 0 },
	{ "MD5-CRYPT", "$1$", 0 },
	{ "CRYPT", "", 0 },
	{ "PLAIN", "", 1 },
	{ "CLEAR", "", 1 },
	{ "CLEARTEXT", "", 1 },
};

static const struct passwd_scheme *passwd_scheme_find(const char *, size_t);
static int	passwd_equal(const char *, const char *);
static int	passwd_crypt_check(const char *, const char *);

static const struct passwd_scheme *
passwd_scheme_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(passwd_schemes) / sizeof(passwd_schemes[0]);
	    i++)
		if (strlen(passwd_schemes[i].name) == len &&
		    strncasecmp(passwd_schemes[i].name, name, len) == 0)
			return &passwd_schemes[i];
	return NULL;
}

/* passwd_equal: constant time in the length of given (the client's). */
static int
passwd_equal(const char *known, const char *given)
{
	size_t klen = strlen(known), glen = strlen(given), i;
	volatile unsigned char diff = klen != glen;

	for (i = 0; i < glen; i++)
		diff |= (unsigned char)known[i < klen ? i : klen] ^
		    (unsigned char)given[i];
	return diff == 0;
}

static int
passwd_crypt_check(const char *setting, const char *password)
{
	struct crypt_data *cd;
	const char *out;
	int ok;

	cd = xcalloc(1, sizeof(*cd));
	out = crypt_rn(password, setting, cd, sizeof(*cd));
	/* Failure is NULL or a string starting with '*', never a hash. */
	ok = out != NULL && out[0] != '*' && passwd_equal(setting, out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int
passwd_verify(const char *stored, const char *password)
{
	const struct passwd_scheme *scheme;
	const char *data, *end;

	if (stored == NULL || password == NULL || *password == '\0' ||
	    strlen(password) >= PASSWD_MAX)
		return 0;
	if (*stored == '{') {
		if ((end = strchr(stored, '}')) == NULL)
			return 0;
		scheme = passwd_scheme_find(stored + 1,
		    (size_t)(end - stored - 1));
		data = end + 1;
	} else if (*stored == '$') {
		/* Dovecot's default scheme for passwd-files is CRYPT. */
		scheme = passwd_scheme_find("CRYPT", 5);
		data = stored;
	} else
		return 0;
	if (scheme == NULL || *data == '\0')
		return 0;
	if (scheme->plain)
		return passwd_equal(data, password);
	if (strncmp(data, scheme->prefix, strlen(scheme->prefix)) != 0)
		return 0;
	return passwd_crypt_check(data, password);
}

char *
passwd_hash(const char *password)
{
	static const char alphabet[] =
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char setting[3 + PASSWD_SALT_LEN + 1], *result = NULL;
	struct crypt_data *cd;
	const char *out;
	size_t i;

	if (*password == '\0' || strlen(password) >= PASSWD_MAX)
		return NULL;
	memcpy(setting, "$6$", 3);
	for (i = 0; i < PASSWD_SALT_LEN; i++)
		setting[3 + i] = alphabet[arc4random_uniform(sizeof(alphabet) -
		    1)];
	setting[3 + PASSWD_SALT_LEN] = '\0';
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_rn(password, setting, cd, sizeof(*cd));
	if (out != NULL && strncmp(out, "$6$", 3) == 0)
		result = xasprintf("{SHA512-CRYPT}%s", out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return result;
}
