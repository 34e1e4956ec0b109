# lib/tls: TLS on top of iobuf (OpenSSL 3). tls_io: the hooks both sides
# share; tls_client: STARTTLS for the smtp transport; tls_server: STARTTLS
# and implicit TLS for smtpd, pop3d and imapd.
lib_libpostilion_a_SOURCES += lib/tls/tls_io.c lib/tls/tls_io.h \
	lib/tls/tls_client.c lib/tls/tls_client.h \
	lib/tls/tls_server.c lib/tls/tls_server.h

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_tls_server
TESTS += tests/unit/test_tls_server
tests_unit_test_tls_server_SOURCES = tests/unit/test_tls_server.c
tests_unit_test_tls_server_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
