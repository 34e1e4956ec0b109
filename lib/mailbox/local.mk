lib_libpostilion_a_SOURCES += \
	lib/mailbox/maildir.h \
	lib/mailbox/maildir.c \
	lib/mailbox/maildir_scan.c
lib_libpostilion_a_SOURCES += lib/mailbox/mailbox_lock.h \
	lib/mailbox/mailbox_lock.c lib/mailbox/uidlist.h lib/mailbox/uidlist.c

# imapd's per-Maildir index and mailbox-name encoding (tests: imapd/local.mk).
lib_libpostilion_a_SOURCES += lib/mailbox/imap_index.h \
	lib/mailbox/imap_index.c lib/mailbox/mutf7.h lib/mailbox/mutf7.c
