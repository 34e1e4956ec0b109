pkglibexec_PROGRAMS += deliver/deliver
deliver_deliver_SOURCES = deliver/deliver.c deliver/deliver.h \
	deliver/deliver_local.c deliver/deliver_local_loop.c \
	deliver/deliver_alias.c deliver/deliver_command.c \
	deliver/deliver_smtp.c deliver/deliver_smtp.h \
	deliver/deliver_smtp_session.c deliver/deliver_smtp_auth.c \
	lib/tls/tls_lazy.c
# OpenSSL is loaded by lib/tls/tls_lazy.c when TLS is first used, not linked.
deliver_deliver_LDADD = lib/libpostilion.a $(LIBBSD_LIBS)

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_maildir tests/unit/test_deliver_proto \
	tests/unit/test_deliver_alias
TESTS += tests/unit/test_maildir tests/unit/test_deliver_proto \
	tests/unit/test_deliver_alias
tests_unit_test_deliver_alias_SOURCES = tests/unit/test_deliver_alias.c \
	deliver/deliver_alias.c deliver/deliver_local_loop.c
tests_unit_test_deliver_alias_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_maildir_SOURCES = tests/unit/test_maildir.c
tests_unit_test_maildir_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_deliver_proto_SOURCES = tests/unit/test_deliver_proto.c
tests_unit_test_deliver_proto_LDADD = $(LDADD) $(CRITERION_LIBS)
endif

TESTS += tests/integration/test_deliver.py
EXTRA_DIST += tests/integration/test_deliver.py
