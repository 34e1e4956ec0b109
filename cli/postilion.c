/*
 * postilion: the administration command (not implemented yet).
 */
#include <stdio.h>

int
main(int argc, char *argv[])
{
	fprintf(stderr, "postilion: not implemented\n");
	return 1;
}
