sbin_PROGRAMS += cli/postilion
cli_postilion_SOURCES = cli/postilion.c cli/cli.h cli/cmd_master.c \
	cli/cmd_config.c cli/cmd_map.c cli/cmd_user.c cli/cmd_queue.c \
	cli/cmd_sendmail.c \
	master/master_conf.c master/master_conf.h \
	master/master_policy.c master/master_policy.h

# sendmail, mailq and newaliases are the same program under other names.
install-exec-hook: install-postilion-links
uninstall-hook: uninstall-postilion-links
.PHONY: install-postilion-links uninstall-postilion-links
# sendmail is a copy, setgid postdrop (when installing as root and the
# group exists) so it can drop files into maildrop/ (01730 root:postdrop).
install-postilion-links:
	for name in mailq newaliases; do \
		rm -f "$(DESTDIR)$(sbindir)/$$name" && \
		$(LN_S) postilion "$(DESTDIR)$(sbindir)/$$name" || exit 1; \
	done
	rm -f "$(DESTDIR)$(sbindir)/sendmail"
	$(INSTALL_PROGRAM) cli/postilion "$(DESTDIR)$(sbindir)/sendmail"
	if test "`id -u`" = 0 && getent group postdrop >/dev/null; then \
		chgrp postdrop "$(DESTDIR)$(sbindir)/sendmail" && \
		chmod g+s "$(DESTDIR)$(sbindir)/sendmail"; \
	fi
uninstall-postilion-links:
	for name in sendmail mailq newaliases; do \
		rm -f "$(DESTDIR)$(sbindir)/$$name"; \
	done
