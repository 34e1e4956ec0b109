/*
 * privsep: the one audited privilege drop. Everything a daemon needs from
 * outside its jail (config, maps, keys, log) must be open before the call.
 * Security: after the drop, the function proves root cannot be regained.
 */
#ifndef POSTILION_PRIVSEP_H
#define POSTILION_PRIVSEP_H

#include <sys/types.h>

/* priv_lookup: uid and primary gid of a user name (or numeric uid); 0/-1. */
int	priv_lookup(const char *, uid_t *, gid_t *);
/*
 * priv_drop: as root, chroot(dir) (if dir is non-NULL), chdir("/"),
 * setgroups(1, gid), setgid, setuid, then verify; fatal on any failure.
 * As non-root, warn once, chdir(dir) and keep running as the caller.
 */
void	priv_drop(uid_t, gid_t, const char *);
/* priv_drop_user: priv_lookup(name) then priv_drop; fatal if unknown. */
void	priv_drop_user(const char *, const char *);

#endif
