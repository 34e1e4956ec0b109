pkglibexec_PROGRAMS += pop3d/pop3d
pop3d_pop3d_SOURCES = pop3d/pop3d.c pop3d/pop3d.h pop3d/session.c \
	pop3d/auth.c pop3d/mailbox.c pop3d/transaction.c pop3d/tls.c \
	lib/tls/tls_lazy.c
# OpenSSL is loaded by lib/tls/tls_lazy.c when TLS is first used, not linked.
pop3d_pop3d_LDADD = lib/libpostilion.a $(LIBBSD_LIBS)

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_pop3 tests/unit/test_maildir_scan \
	tests/unit/test_pop3_mailbox
TESTS += tests/unit/test_pop3 tests/unit/test_maildir_scan \
	tests/unit/test_pop3_mailbox
tests_unit_test_pop3_mailbox_SOURCES = tests/unit/test_pop3_mailbox.c
tests_unit_test_pop3_mailbox_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_pop3_SOURCES = tests/unit/test_pop3.c
tests_unit_test_pop3_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_maildir_scan_SOURCES = tests/unit/test_maildir_scan.c
tests_unit_test_maildir_scan_LDADD = $(LDADD) $(CRITERION_LIBS)
endif

TESTS += tests/integration/test_pop3.py
EXTRA_DIST += tests/integration/test_pop3.py

# The POP3 parsers' fuzz target, replaying its corpus (and random inputs)
# as a check program; -DFUZZ_LIBFUZZER -fsanitize=fuzzer makes it libFuzzer's.
check_PROGRAMS += tests/fuzz/fuzz_pop3
TESTS += tests/fuzz/fuzz_pop3
tests_fuzz_fuzz_pop3_SOURCES = tests/fuzz/fuzz_pop3.c
tests_fuzz_fuzz_pop3_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/pop3"'
EXTRA_DIST += tests/fuzz/corpus/pop3

TESTS += tests/integration/test_pop3_tls.py
EXTRA_DIST += tests/integration/test_pop3_tls.py
