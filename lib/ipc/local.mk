lib_libpostilion_a_SOURCES += \
	lib/ipc/ipc.c lib/ipc/ipc.h \
	lib/ipc/service.c lib/ipc/service.h
lib_libpostilion_a_SOURCES += \
	lib/ipc/deliver_proto.c lib/ipc/deliver_proto.h
