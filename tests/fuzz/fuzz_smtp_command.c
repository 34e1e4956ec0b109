/*
 * fuzz_smtp_command: a command line through the verb splitter, then its
 * arguments through the MAIL/RCPT path parser with every flag set, as
 * smtpd does. Checks the invariants smtpd relies on.
 */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "proto/smtp_addr.h"
#include "proto/smtp_command.h"

const char fuzz_target_name[] = "smtp_command";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct smtp_command cmd;
	struct smtp_path_args pa;
	const char *line = (const char *)data;
	int flags;
	size_t i;

	if (smtp_command_parse(line, len, &cmd) != SMTP_CMD_OK)
		return 0;
	assert(strlen(cmd.verb) >= 1 && strlen(cmd.verb) <= SMTP_VERB_MAX);
	assert(cmd.args >= line && cmd.args + cmd.args_len <= line + len);
	for (i = 0; i < cmd.args_len; i++)
		assert((unsigned char)cmd.args[i] >= 0x20 || cmd.args[i] == '\t');
	for (flags = 0; flags < 8; flags++) {
		if (smtp_path_args_parse(cmd.args, cmd.args_len,
		    strcmp(cmd.verb, "MAIL") == 0 ? "FROM" : "TO", flags,
		    &pa) == -1) {
			assert(pa.reason != NULL && pa.error != SMTP_ADDR_OK);
			continue;
		}
		assert(strlen(pa.path.address) <= SMTP_ADDRESS_MAX);
		assert(strlen(pa.path.local) <= SMTP_LOCAL_MAX);
		assert(strlen(pa.path.domain) <= SMTP_DOMAIN_MAX);
		assert(pa.params.count <= SMTP_PARAMS_MAX);
		for (i = 0; pa.path.address[i]; i++)
			assert((unsigned char)pa.path.address[i] >= 0x20);
	}
	return 0;
}
