lib_libpostilion_a_SOURCES += \
	lib/mailbox/maildir.h \
	lib/mailbox/maildir.c \
	lib/mailbox/maildir_scan.c
lib_libpostilion_a_SOURCES += lib/mailbox/mailbox_lock.h \
	lib/mailbox/mailbox_lock.c lib/mailbox/uidlist.h lib/mailbox/uidlist.c
