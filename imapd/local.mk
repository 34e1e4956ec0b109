pkglibexec_PROGRAMS += imapd/imapd
imapd_imapd_SOURCES = imapd/imapd.c imapd/imapd.h imapd/session.c \
	imapd/auth.c imapd/mailboxes.c imapd/select.c imapd/append.c \
	imapd/fetch.c imapd/search.c imapd/idle.c lib/tls/tls_lazy.c
# OpenSSL is loaded by lib/tls/tls_lazy.c when TLS is first used, not linked.
imapd_imapd_LDADD = lib/libpostilion.a $(LIBBSD_LIBS)

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_imap_parse tests/unit/test_imap_mutf7 \
	tests/unit/test_imap_index
TESTS += tests/unit/test_imap_parse tests/unit/test_imap_mutf7 \
	tests/unit/test_imap_index
tests_unit_test_imap_parse_SOURCES = tests/unit/test_imap_parse.c
tests_unit_test_imap_parse_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_imap_mutf7_SOURCES = tests/unit/test_imap_mutf7.c
tests_unit_test_imap_mutf7_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_imap_index_SOURCES = tests/unit/test_imap_index.c
tests_unit_test_imap_index_LDADD = $(LDADD) $(CRITERION_LIBS)
endif

# The IMAP reader/parser fuzz target (corpus tests/fuzz/corpus/imap).
check_PROGRAMS += tests/fuzz/fuzz_imap
TESTS += tests/fuzz/fuzz_imap
tests_fuzz_fuzz_imap_SOURCES = tests/fuzz/fuzz_imap.c \
	tests/fuzz/fuzz_main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_imap_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/corpus"'
EXTRA_DIST += tests/fuzz/corpus/imap

TESTS += tests/integration/test_imap.py
EXTRA_DIST += tests/integration/test_imap.py

TESTS += tests/integration/test_imap_tls.py
EXTRA_DIST += tests/integration/test_imap_tls.py
