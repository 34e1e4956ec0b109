/*
 * smtp_command: verb and argument of a command line. Leading and trailing
 * whitespace is tolerated (as Postfix does); the verb is letters only, so
 * a table lookup on it can never see anything surprising.
 */
#include <string.h>

#include "proto/smtp_command.h"

static int is_space(char);

static int
is_space(char c)
{
	return c == ' ' || c == '\t';
}

int
smtp_command_parse(const char *line, size_t len, struct smtp_command *cmd)
{
	size_t pos = 0, start, i;
	unsigned char c;

	memset(cmd, 0, sizeof(*cmd));
	cmd->args = line + len;
	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return SMTP_CMD_BADCHAR;
	}
	while (pos < len && is_space(line[pos]))
		pos++;
	while (len > pos && is_space(line[len - 1]))
		len--;
	if (pos == len)
		return SMTP_CMD_EMPTY;
	for (start = pos; pos < len && !is_space(line[pos]); pos++) {
		c = (unsigned char)line[pos];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ||
		    pos - start >= SMTP_VERB_MAX)
			return SMTP_CMD_BADVERB;
		cmd->verb[pos - start] = (char)(c >= 'a' ? c - 'a' + 'A' : c);
	}
	while (pos < len && is_space(line[pos]))
		pos++;
	cmd->args = line + pos;
	cmd->args_len = len - pos;
	return SMTP_CMD_OK;
}
