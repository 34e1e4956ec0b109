pkglibexec_PROGRAMS += qmgr/qmgr
qmgr_qmgr_SOURCES = qmgr/qmgr.c qmgr/qmgr.h qmgr/qmgr_route.c \
	qmgr/qmgr_scan.c qmgr/qmgr_sched.c

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_qmgr_route
TESTS += tests/unit/test_qmgr_route
tests_unit_test_qmgr_route_SOURCES = tests/unit/test_qmgr_route.c \
	qmgr/qmgr_route.c
tests_unit_test_qmgr_route_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
