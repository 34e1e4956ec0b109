pkglibexec_PROGRAMS += pop3d/pop3d
pop3d_pop3d_SOURCES = pop3d/pop3d.c
