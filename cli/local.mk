sbin_PROGRAMS += cli/postilion
cli_postilion_SOURCES = cli/postilion.c cli/cli.h cli/cmd_master.c \
	cli/cmd_config.c cli/cmd_map.c cli/cmd_user.c \
	master/master_conf.c master/master_conf.h \
	master/master_policy.c master/master_policy.h

# sendmail, mailq and newaliases are the same program under other names.
install-exec-hook: install-postilion-links
uninstall-hook: uninstall-postilion-links
.PHONY: install-postilion-links uninstall-postilion-links
install-postilion-links:
	for name in sendmail mailq newaliases; do \
		rm -f "$(DESTDIR)$(sbindir)/$$name" && \
		$(LN_S) postilion "$(DESTDIR)$(sbindir)/$$name" || exit 1; \
	done
uninstall-postilion-links:
	for name in sendmail mailq newaliases; do \
		rm -f "$(DESTDIR)$(sbindir)/$$name"; \
	done
