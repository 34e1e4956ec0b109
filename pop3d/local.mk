pkglibexec_PROGRAMS += pop3d/pop3d
pop3d_pop3d_SOURCES = pop3d/pop3d.c pop3d/pop3d.h pop3d/session.c \
	pop3d/auth.c pop3d/mailbox.c pop3d/transaction.c

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_pop3 tests/unit/test_maildir_scan
TESTS += tests/unit/test_pop3 tests/unit/test_maildir_scan
tests_unit_test_pop3_SOURCES = tests/unit/test_pop3.c
tests_unit_test_pop3_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_maildir_scan_SOURCES = tests/unit/test_maildir_scan.c
tests_unit_test_maildir_scan_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
