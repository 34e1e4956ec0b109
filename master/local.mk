pkglibexec_PROGRAMS += master/master
master_master_SOURCES = master/master.c master/master.h \
	master/master_child.c master/master_conf.c master/master_conf.h \
	master/master_dirs.c master/master_listen.c master/master_policy.c \
	master/master_policy.h master/master_service.c

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_master
TESTS += tests/unit/test_master
tests_unit_test_master_SOURCES = tests/unit/test_master.c \
	master/master_conf.c master/master_conf.h \
	master/master_policy.c master/master_policy.h
tests_unit_test_master_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
