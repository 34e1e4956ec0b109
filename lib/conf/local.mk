lib_libpostilion_a_SOURCES += \
	lib/conf/config.c lib/conf/config.h \
	lib/conf/master_cf.c lib/conf/master_cf.h
