# lib/proto: pure protocol parsers (no I/O, no globals), each fuzzable.
lib_libpostilion_a_SOURCES += \
	lib/proto/smtp_addr.c lib/proto/smtp_addr.h \
	lib/proto/smtp_command.c lib/proto/smtp_command.h \
	lib/proto/smtp_data.c lib/proto/smtp_data.h

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_smtp_addr tests/unit/test_smtp_data \
	tests/unit/test_netaddr
TESTS += tests/unit/test_smtp_addr tests/unit/test_smtp_data \
	tests/unit/test_netaddr
tests_unit_test_smtp_addr_SOURCES = tests/unit/test_smtp_addr.c
tests_unit_test_smtp_addr_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_smtp_data_SOURCES = tests/unit/test_smtp_data.c
tests_unit_test_smtp_data_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_netaddr_SOURCES = tests/unit/test_netaddr.c
tests_unit_test_netaddr_LDADD = $(LDADD) $(CRITERION_LIBS)
endif

# lib/proto/pop3: POP3 command parsing and RETR/TOP conversion (tests: pop3d/local.mk).
lib_libpostilion_a_SOURCES += lib/proto/pop3.c lib/proto/pop3.h

# lib/proto/dsn: RFC 3464 notices (bounce, delay, success) for qmgr (tests: qmgr/local.mk).
lib_libpostilion_a_SOURCES += lib/proto/dsn.c lib/proto/dsn.h

# lib/proto/smtp_reply: the SMTP client's reply parser (tests: test_smtp_reply).
lib_libpostilion_a_SOURCES += lib/proto/smtp_reply.c lib/proto/smtp_reply.h
if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_smtp_reply
TESTS += tests/unit/test_smtp_reply
tests_unit_test_smtp_reply_SOURCES = tests/unit/test_smtp_reply.c
tests_unit_test_smtp_reply_LDADD = $(LDADD) $(CRITERION_LIBS)
endif

# The reply parser's fuzz target (corpus tests/fuzz/corpus/smtp_reply).
check_PROGRAMS += tests/fuzz/fuzz_smtp_reply
TESTS += tests/fuzz/fuzz_smtp_reply
tests_fuzz_fuzz_smtp_reply_SOURCES = tests/fuzz/fuzz_smtp_reply.c \
	tests/fuzz/fuzz_main.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_smtp_reply_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS_DIR='"$(abs_top_srcdir)/tests/fuzz/corpus"'
EXTRA_DIST += tests/fuzz/corpus/smtp_reply

# lib/proto/imap: the IMAP command reader and parser (tests: imapd/local.mk).
lib_libpostilion_a_SOURCES += lib/proto/imap.c lib/proto/imap.h

# lib/proto/mime: MIME tree, ENVELOPE, BODYSTRUCTURE and BODY[section] for
# imapd (tests: test_mime; fuzz target fuzz_mime, corpus tests/fuzz/corpus/mime).
lib_libpostilion_a_SOURCES += lib/proto/mime.c lib/proto/mime.h
if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_mime
TESTS += tests/unit/test_mime
tests_unit_test_mime_SOURCES = tests/unit/test_mime.c
tests_unit_test_mime_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
# The MIME fuzz target, replaying tests/fuzz/corpus/mime plus spliced inputs.
check_PROGRAMS += tests/fuzz/fuzz_mime
TESTS += tests/fuzz/fuzz_mime
tests_fuzz_fuzz_mime_SOURCES = tests/fuzz/fuzz_mime.c
tests_fuzz_fuzz_mime_CPPFLAGS = $(AM_CPPFLAGS) \
	-DFUZZ_CORPUS='"$(abs_top_srcdir)/tests/fuzz/corpus/mime"'
EXTRA_DIST += tests/fuzz/corpus/mime
