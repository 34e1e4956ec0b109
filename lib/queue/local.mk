lib_libpostilion_a_SOURCES += \
	lib/queue/queue.c lib/queue/queue.h lib/queue/queue_pool.c
