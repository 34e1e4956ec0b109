lib_libpostilion_a_SOURCES += \
	lib/mailbox/maildir.h \
	lib/mailbox/maildir.c \
	lib/mailbox/maildir_scan.c
