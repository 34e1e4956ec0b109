lib_libpostilion_a_SOURCES += \
	lib/map/map.c lib/map/map.h lib/map/map_impl.h \
	lib/map/map_text.c lib/map/map_build.c \
	lib/map/map_db.c lib/map/map_mem.c \
	lib/map/passwd.c lib/map/passwd.h \
	lib/map/alias_expand.c lib/map/alias_expand.h \
	lib/map/map_passwdfile.c

if HAVE_CRITERION
check_PROGRAMS += tests/unit/test_map
TESTS += tests/unit/test_map
tests_unit_test_map_SOURCES = tests/unit/test_map.c
tests_unit_test_map_LDADD = $(LDADD) $(CRITERION_LIBS)
endif
