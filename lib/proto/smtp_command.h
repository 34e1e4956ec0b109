/*
 * smtp_command: split one SMTP command line (line end already removed)
 * into an upper-case verb and its argument text. Pure: no I/O, no
 * allocation; the argument points into the caller's line.
 * Security: refuses control characters anywhere in the line.
 */
#ifndef POSTILION_SMTP_COMMAND_H
#define POSTILION_SMTP_COMMAND_H

#include <stddef.h>

#define SMTP_VERB_MAX	16

enum smtp_command_error {
	SMTP_CMD_OK = 0,
	SMTP_CMD_EMPTY,		/* nothing but whitespace */
	SMTP_CMD_BADCHAR,	/* a control character (NUL, CR, ...) */
	SMTP_CMD_BADVERB	/* the verb is not 1-16 letters */
};

struct smtp_command {
	char	 verb[SMTP_VERB_MAX + 1];	/* upper case */
	const char *args;	/* after the verb, whitespace trimmed */
	size_t	 args_len;
};

int	smtp_command_parse(const char *line, size_t len, struct smtp_command *);

#endif
