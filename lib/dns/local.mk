# lib/dns: MX/A/AAAA lookups for the smtp client (resolver library).
lib_libpostilion_a_SOURCES += lib/dns/dns.c lib/dns/dns.h

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_dns
TESTS += tests/unit/test_dns
tests_unit_test_dns_SOURCES = tests/unit/test_dns.c
tests_unit_test_dns_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
