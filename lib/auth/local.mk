# lib/auth: base64, SASL PLAIN/LOGIN messages and the account check shared by smtpd, pop3d and imapd.
lib_libpostilion_a_SOURCES += lib/auth/auth.c lib/auth/auth.h \
	lib/auth/auth_failures.c

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_auth
TESTS += tests/unit/test_auth
tests_unit_test_auth_SOURCES = tests/unit/test_auth.c
tests_unit_test_auth_LDADD = $(LDADD) $(CRITERION_LIBS)
endif

# lib/auth's fuzz target, replaying tests/fuzz/corpus/auth plus random inputs.
check_PROGRAMS += tests/fuzz/fuzz_auth
TESTS += tests/fuzz/fuzz_auth
tests_fuzz_fuzz_auth_SOURCES = tests/fuzz/fuzz_auth.c tests/fuzz/fuzz_main.c \
	tests/fuzz/fuzz.h
tests_fuzz_fuzz_auth_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/corpus"'
EXTRA_DIST += tests/fuzz/corpus/auth
