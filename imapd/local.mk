pkglibexec_PROGRAMS += imapd/imapd
imapd_imapd_SOURCES = imapd/imapd.c
