/*
 * privsep: chroot + setgroups + setgid + setuid, in that order (chroot needs
 * root; groups must go before the gid, the gid before the uid), then a check
 * that setuid(0) fails and the ids are what was asked for.
 */
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fileutil.h"
#include "core/log.h"
#include "core/privsep.h"

int
priv_lookup(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;
	const char *errstr;
	long long n;

	if ((pw = getpwnam(name)) != NULL) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
		return 0;
	}
	n = strtonum(name, 0, 2147483647, &errstr);
	if (errstr != NULL)
		return -1;
	*uid = (uid_t)n;
	*gid = (pw = getpwuid((uid_t)n)) ? pw->pw_gid : (gid_t)n;
	return 0;
}

void
priv_drop(uid_t uid, gid_t gid, const char *dir)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int fd;

	if (geteuid() != 0) {
		log_warnx("not running as root: no chroot, no privilege drop");
		if (dir && chdir(dir) == -1)
			fatal("chdir %s", dir);
		return;
	}
	if (uid == 0)
		fatalx("priv_drop: refusing to run a daemon as root");
	if (dir) {
		/*
		 * /proc and /sys are out of reach inside: ask now what the
		 * directory's file system promises of an fsync (fileutil.c;
		 * the answer is kept for that device).
		 */
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
			(void)fsync_covers_names(fd);
			close(fd);
		}
		if (chroot(dir) == -1)
			fatal("chroot %s", dir);
		if (chdir("/") == -1)
			fatal("chdir / in %s", dir);
	}
	if (setgroups(1, &gid) == -1)
		fatal("setgroups %ld", (long)gid);
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %ld", (long)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid %ld", (long)uid);

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("getresuid");
	if (ruid != uid || euid != uid || suid != uid ||
	    rgid != gid || egid != gid || sgid != gid)
		fatalx("priv_drop: ids did not change");
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("priv_drop: root could be regained");
}

void
priv_drop_user(const char *user, const char *dir)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0) {
		priv_drop(0, 0, dir);
		return;
	}
	if (priv_lookup(user, &uid, &gid) == -1)
		fatalx("unknown user: %s", user);
	priv_drop(uid, gid, dir);
}
