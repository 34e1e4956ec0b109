pkglibexec_PROGRAMS += deliver/deliver
deliver_deliver_SOURCES = deliver/deliver.c
