pkglibexec_PROGRAMS += smtpd/smtpd
smtpd_smtpd_SOURCES = smtpd/smtpd.c smtpd/smtpd.h \
	smtpd/smtpd_session.c \
	smtpd/smtpd_io.c \
	smtpd/smtpd_envelope.c \
	smtpd/smtpd_resolve.c \
	smtpd/smtpd_policy.c \
	smtpd/smtpd_data.c \
	smtpd/smtpd_tls.c \
	smtpd/smtpd_auth.c \
	lib/tls/tls_lazy.c
# OpenSSL is loaded by lib/tls/tls_lazy.c when TLS is first used, not linked.
smtpd_smtpd_LDADD = lib/libpostilion.a $(LIBBSD_LIBS)

TESTS += tests/integration/test_smtpd.py
EXTRA_DIST += tests/integration/test_smtpd.py
TESTS += tests/integration/test_smtpd_tls.py
EXTRA_DIST += tests/integration/test_smtpd_tls.py

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_smtp_alias
TESTS += tests/unit/test_smtp_alias
tests_unit_test_smtp_alias_SOURCES = tests/unit/test_smtp_alias.c
tests_unit_test_smtp_alias_LDADD = $(LDADD) $(CRITERION_LIBS)
endif

# Fuzz targets for the SMTP command, address and DATA parsers: plain
# programs replaying tests/fuzz/corpus/NAME plus random inputs under check;
# -DFUZZ_LIBFUZZER -fsanitize=fuzzer builds them for libFuzzer instead.
SMTP_FUZZ_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/corpus"'
check_PROGRAMS += tests/fuzz/fuzz_smtp_command tests/fuzz/fuzz_smtp_addr \
	tests/fuzz/fuzz_smtp_data
TESTS += tests/fuzz/fuzz_smtp_command tests/fuzz/fuzz_smtp_addr \
	tests/fuzz/fuzz_smtp_data
tests_fuzz_fuzz_smtp_command_SOURCES = tests/fuzz/fuzz_smtp_command.c \
	tests/fuzz/fuzz_main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_smtp_command_CPPFLAGS = $(SMTP_FUZZ_CPPFLAGS)
tests_fuzz_fuzz_smtp_addr_SOURCES = tests/fuzz/fuzz_smtp_addr.c \
	tests/fuzz/fuzz_main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_smtp_addr_CPPFLAGS = $(SMTP_FUZZ_CPPFLAGS)
tests_fuzz_fuzz_smtp_data_SOURCES = tests/fuzz/fuzz_smtp_data.c \
	tests/fuzz/fuzz_main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_smtp_data_CPPFLAGS = $(SMTP_FUZZ_CPPFLAGS)
EXTRA_DIST += tests/fuzz/corpus/smtp_command tests/fuzz/corpus/smtp_addr \
	tests/fuzz/corpus/smtp_data

TESTS += tests/integration/test_sendmail.py
EXTRA_DIST += tests/integration/test_sendmail.py
