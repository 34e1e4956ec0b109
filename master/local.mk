pkglibexec_PROGRAMS += master/master
master_master_SOURCES = master/master.c
