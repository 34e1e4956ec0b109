# Criterion unit tests, one program per lib module.
if HAVE_CRITERION
UNIT_LDADD = $(LDADD) $(CRITERION_LIBS)
check_PROGRAMS += tests/unit/test_config tests/unit/test_queue
TESTS += tests/unit/test_config tests/unit/test_queue
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_LDADD = $(UNIT_LDADD)
tests_unit_test_queue_SOURCES = tests/unit/test_queue.c
tests_unit_test_queue_LDADD = $(UNIT_LDADD)
endif
