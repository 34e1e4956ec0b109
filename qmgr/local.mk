pkglibexec_PROGRAMS += qmgr/qmgr
qmgr_qmgr_SOURCES = qmgr/qmgr.c qmgr/qmgr.h qmgr/qmgr_route.c \
	qmgr/qmgr_scan.c qmgr/qmgr_sched.c qmgr/qmgr_bounce.c \
	qmgr/qmgr_admin.c qmgr/qmgr_forward.c qmgr/qmgr_remove.c \
	qmgr/qmgr_conn.c
qmgr_qmgr_LDADD = $(LDADD) -lpthread

TESTS += tests/integration/test_queue.py
EXTRA_DIST += tests/integration/test_queue.py

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_qmgr_route tests/unit/test_dsn
TESTS += tests/unit/test_qmgr_route tests/unit/test_dsn
tests_unit_test_qmgr_route_SOURCES = tests/unit/test_qmgr_route.c \
	qmgr/qmgr_route.c
tests_unit_test_qmgr_route_LDADD = $(LDADD) $(CRITERION_LIBS)
tests_unit_test_dsn_SOURCES = tests/unit/test_dsn.c
tests_unit_test_dsn_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
EXTRA_DIST += docs/QUEUE.md
