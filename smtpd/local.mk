pkglibexec_PROGRAMS += smtpd/smtpd
smtpd_smtpd_SOURCES = smtpd/smtpd.c smtpd/smtpd.h \
	smtpd/smtpd_session.c \
	smtpd/smtpd_envelope.c \
	smtpd/smtpd_policy.c \
	smtpd/smtpd_data.c
