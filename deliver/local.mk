pkglibexec_PROGRAMS += deliver/deliver
deliver_deliver_SOURCES = deliver/deliver.c deliver/deliver.h \
	deliver/deliver_local.c deliver/deliver_smtp.c

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_maildir tests/unit/test_deliver_proto
TESTS += tests/unit/test_maildir tests/unit/test_deliver_proto
tests_unit_test_maildir_SOURCES = tests/unit/test_maildir.c
tests_unit_test_maildir_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_deliver_proto_SOURCES = tests/unit/test_deliver_proto.c
tests_unit_test_deliver_proto_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
