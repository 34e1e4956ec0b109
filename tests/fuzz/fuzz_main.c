/*
 * fuzz_main: replay driver for the smtp fuzz targets when libFuzzer is
 * not linked in (-DFUZZ_LIBFUZZER -fsanitize=fuzzer leaves it out). Inputs are bounded by
 * FUZZ_INPUT_MAX; a target that crashes or trips a sanitizer fails check.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_LIBFUZZER

#define FUZZ_INPUT_MAX		(1024 * 1024)
#define FUZZ_RANDOM_RUNS	20000
#define FUZZ_RANDOM_MAX		600

static int fuzz_file(const char *);
static int fuzz_dir(const char *);
static void fuzz_random(void);

static int
fuzz_file(const char *path)
{
	static uint8_t data[FUZZ_INPUT_MAX];
	FILE *f;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	n = fread(data, 1, sizeof(data), f);
	fclose(f);
	LLVMFuzzerTestOneInput(data, n);
	return 0;
}

static int
fuzz_dir(const char *dir)
{
	char path[4096 + 256];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int count = 0;

	if ((d = opendir(dir)) == NULL) {
		perror(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%.3800s/%s", dir,
		    de->d_name) >= sizeof(path))
			continue;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    fuzz_file(path) == 0)
			count++;
	}
	closedir(d);
	return count;
}

/* Inputs drawn from the SMTP alphabet, so parsers get past the first byte. */
static void
fuzz_random(void)
{
	static const char alphabet[] = "<>@.:\"\\,;=+ \t\r\n\0%!-[]AZaz09"
	    "\x80\xc3\xa9\xff";
	static const char *seeds[] = { "FROM:<", "TO:<", "MAIL ", "RCPT ",
	    "\r\n.\r\n", "BDAT ", "a@b.example", "ORCPT=rfc822;" };
	uint8_t buf[FUZZ_RANDOM_MAX];
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	size_t len, i, k;
	int run;

	for (run = 0; run < FUZZ_RANDOM_RUNS; run++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		len = (size_t)(x % sizeof(buf));
		for (i = 0; i < len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (x % 16 == 0) {
				const char *s = seeds[(x >> 8) % 8];
				for (k = 0; s[k] && i < len; k++)
					buf[i++] = (uint8_t)s[k];
				i--;
				continue;
			}
			buf[i] = (uint8_t)alphabet[(x >> 16) %
			    (sizeof(alphabet) - 1)];
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
}

int
main(int argc, char *argv[])
{
	char dir[4096];
	const char *srcdir = getenv("srcdir");
	int i, n;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (fuzz_file(argv[i]) == -1)
				return 1;
		return 0;
	}
#ifdef FUZZ_CORPUS_DIR
	(void)srcdir;
	snprintf(dir, sizeof(dir), "%s/%s", FUZZ_CORPUS_DIR, fuzz_target_name);
#else
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
	    srcdir ? srcdir : ".", fuzz_target_name);
#endif
	/* TAP for automake's driver; a crash is caught by it as an error. */
	printf("1..1\n");
	fflush(stdout);
	if ((n = fuzz_dir(dir)) < 1) {
		printf("not ok 1 - %s: empty corpus %s\n", fuzz_target_name,
		    dir);
		return 1;
	}
	fuzz_random();
	printf("ok 1 - %s: %d corpus files and %d random inputs replayed\n",
	    fuzz_target_name, n, FUZZ_RANDOM_RUNS);
	return 0;
}
#endif
