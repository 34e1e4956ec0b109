sbin_PROGRAMS += cli/postilion
cli_postilion_SOURCES = cli/postilion.c
