lib_libpostilion_a_SOURCES += \
	lib/core/log.c lib/core/log.h \
	lib/core/xmalloc.c lib/core/xmalloc.h \
	lib/core/buf.c lib/core/buf.h \
	lib/core/fileutil.c lib/core/fileutil.h \
	lib/core/iobuf.c lib/core/iobuf.h \
	lib/core/privsep.c lib/core/privsep.h \
	lib/core/netaddr.c lib/core/netaddr.h
