/*
 * cmd_user: `postilion user add|passwd|del|list`: mail accounts kept in the
 * text sources of the first virtual_password_maps entry ("ADDRESS  HASH")
 * and the first virtual_mailbox_maps entry ("ADDRESS  DOMAIN/LOCAL/"),
 * rebuilt with map_build() after each change.
 * Security: the password is read without echo (or from a pipe), hashed and
 * wiped; sources are replaced by rename under a lock on their directory;
 * a new password source is created 0600.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <readpassphrase.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf/config.h"
#include "core/buf.h"
#include "core/fileutil.h"
#include "core/xmalloc.h"
#include "map/map.h"
#include "map/passwd.h"

/* RFC 5321 section 4.5.3.1: local part 64, domain 255, path 256 octets. */
#define USER_LOCAL_MAX		64
#define USER_DOMAIN_MAX		255
#define USER_ADDRESS_MAX	254

struct user_source {
	char	*spec;		/* "hash:/etc/postilion/passwd" */
	char	*path;		/* the text source of the map */
	int	 build;		/* 1 for hash: and btree:, 0 for texthash: */
};

struct user_ctx {
	struct config *cfg;
	char	 address[USER_ADDRESS_MAX + 1];
	char	*at;		/* the '@' inside address */
	struct user_source pw;
	struct user_source mbox;	/* spec NULL: none configured */
	int	 lockfd;
};

static int	user_usage(void);
static int	user_address(struct user_ctx *, const char *);
static int	user_part_valid(const char *, size_t, size_t);
static int	user_source_get(struct config *, const char *,
		    struct user_source *);
static void	user_source_free(struct user_source *);
static int	user_setup(struct user_ctx *, struct config *, const char *);
static void	user_cleanup(struct user_ctx *);
static int	user_lock(struct user_ctx *);
static char	*user_read_source(const char *);
static int	user_line_key(const char *, size_t, const char *);
static int	user_edit(const char *, const char *, const char *,
		    struct buf *);
static int	user_write_source(const char *, const struct buf *, mode_t);
static int	user_update(const struct user_source *, const char *,
		    const char *, mode_t, int *);
static int	user_build(const struct user_source *);
static int	user_has(const char *, const char *);
static int	user_read_password(char *, size_t);
static char	*user_new_hash(void);
static void	user_domain_check(struct user_ctx *);
static int	user_add_mailbox(struct user_ctx *);
static int	user_add(struct user_ctx *);
static int	user_passwd(struct user_ctx *);
static int	user_del(struct user_ctx *);
static int	user_list_print(const char *, const char *, void *);
static int	user_list(struct config *);

static int
user_usage(void)
{
	fprintf(stderr, "usage: postilion user add|passwd|del ADDRESS\n"
	    "       postilion user list\n");
	return 2;
}

/* user_part_valid: printable ASCII without '/', not "", "." or "..". */
static int
user_part_valid(const char *s, size_t len, size_t max)
{
	size_t i;

	if (len == 0 || len > max || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '/' || s[i] == '\\' || s[i] == '#')
			return 0;
	return 1;
}

/*
 * user_address: exactly one '@' between a local part and a domain that can
 * name a directory (DOMAIN/LOCAL/ under virtual_mailbox_base), lower-cased.
 */
static int
user_address(struct user_ctx *u, const char *arg)
{
	char *at;

	if (strlcpy(u->address, arg, sizeof(u->address)) >=
	    sizeof(u->address)) {
		fprintf(stderr, "postilion: user: address too long (limit %d "
		    "bytes)\n", USER_ADDRESS_MAX);
		return -1;
	}
	for (at = u->address; *at; at++)
		if (*at >= 'A' && *at <= 'Z')
			*at += 'a' - 'A';
	at = strchr(u->address, '@');
	if (at == NULL || strchr(at + 1, '@') != NULL ||
	    !user_part_valid(u->address, (size_t)(at - u->address),
	    USER_LOCAL_MAX) ||
	    !user_part_valid(at + 1, strlen(at + 1), USER_DOMAIN_MAX)) {
		fprintf(stderr, "postilion: user: \"%s\": expected "
		    "local-part@domain\n", arg);
		return -1;
	}
	u->at = at;
	return 0;
}

/* user_source_get: the first map of a parameter, if it has a text source. */
static int
user_source_get(struct config *cfg, const char *param, struct user_source *s)
{
	static const struct {
		const char *prefix;
		int	 build;
	} types[] = { { "hash:", 1 }, { "btree:", 1 }, { "texthash:", 0 } };
	char **v;
	size_t i, n;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	v = config_split(config_get(cfg, param), &n);
	if (n == 0) {
		config_split_free(v);
		return 0;
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strncmp(v[0], types[i].prefix,
		    strlen(types[i].prefix)) == 0 &&
		    v[0][strlen(types[i].prefix)] != '\0') {
			s->spec = xstrdup(v[0]);
			s->path = xstrdup(v[0] + strlen(types[i].prefix));
			s->build = types[i].build;
			rc = 0;
		}
	}
	if (rc == -1)
		fprintf(stderr, "postilion: user: %s = %s: the first map must "
		    "be hash:, btree: or texthash: with a file\n", param,
		    v[0]);
	config_split_free(v);
	return rc;
}

static void
user_source_free(struct user_source *s)
{
	free(s->spec);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

static int
user_setup(struct user_ctx *u, struct config *cfg, const char *address)
{
	memset(u, 0, sizeof(*u));
	u->cfg = cfg;
	u->lockfd = -1;
	if (user_address(u, address) == -1 ||
	    user_source_get(cfg, "virtual_password_maps", &u->pw) == -1 ||
	    user_source_get(cfg, "virtual_mailbox_maps", &u->mbox) == -1)
		return -1;
	if (u->pw.spec == NULL) {
		fprintf(stderr, "postilion: user: virtual_password_maps is "
		    "empty\n");
		return -1;
	}
	if (u->mbox.spec != NULL && strcmp(u->mbox.path, u->pw.path) == 0) {
		fprintf(stderr, "postilion: user: virtual_password_maps and "
		    "virtual_mailbox_maps must use different files\n");
		return -1;
	}
	return 0;
}

static void
user_cleanup(struct user_ctx *u)
{
	if (u->lockfd != -1)
		close(u->lockfd);
	user_source_free(&u->pw);
	user_source_free(&u->mbox);
}

/* user_lock: serialise account changes on the password source's directory. */
static int
user_lock(struct user_ctx *u)
{
	char *dir, *slash;

	dir = xstrdup(u->pw.path);
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", strlen(dir) + 1);
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	u->lockfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u->lockfd == -1 || flock(u->lockfd, LOCK_EX) == -1) {
		fprintf(stderr, "postilion: user: lock %s: %s\n", dir,
		    strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	return 0;
}

/* user_read_source: the file's text, "" when it does not exist yet. */
static char *
user_read_source(const char *path)
{
	char *text;

	if ((text = read_file(path, NULL, MAP_SOURCE_MAX)) != NULL)
		return text;
	if (errno == ENOENT)
		return xstrdup("");
	fprintf(stderr, "postilion: user: read %s: %s\n", path,
	    errno == EFBIG ? "not a regular file or too large" :
	    strerror(errno));
	return NULL;
}

/* user_line_key: a line that starts an entry whose key is key. */
static int
user_line_key(const char *line, size_t len, const char *key)
{
	size_t klen = strlen(key);

	if (len < klen || strncasecmp(line, key, klen) != 0)
		return 0;
	/* The value may start on a continuation line. */
	return len == klen || strchr(" \t\r\n", line[klen]) != NULL;
}

/*
 * user_edit: copy text to out without the entries for key (with their
 * continuation lines); the first is replaced by line when line is non-NULL.
 * Comments and blank lines stay. Returns how many entries matched.
 */
static int
user_edit(const char *text, const char *key, const char *line,
    struct buf *out)
{
	const char *s, *eol;
	size_t len;
	int matches = 0, skipping = 0;

	for (s = text; *s; s += len) {
		eol = strchr(s, '\n');
		len = eol ? (size_t)(eol - s) + 1 : strlen(s);
		if (*s != ' ' && *s != '\t' && *s != '#' && *s != '\n' &&
		    *s != '\r') {
			if ((skipping = user_line_key(s, len, key)) != 0 &&
			    matches++ == 0 && line != NULL)
				buf_puts(out, line);
			if (skipping)
				continue;
		} else if (skipping && (*s == ' ' || *s == '\t') &&
		    strspn(s, " \t\r\n") < len)
			continue;	/* a continuation of a removed entry */
		buf_append(out, s, len);
	}
	return matches;
}

/* user_write_source: replace path by the contents of b (tmp, fsync, rename). */
static int
user_write_source(const char *path, const struct buf *b, mode_t newmode)
{
	struct stat st;
	char *tmp, *dir, *slash;
	int fd, existed, rc = -1;

	existed = stat(path, &st) == 0;
	tmp = xasprintf("%s.tmp", path);
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", strlen(dir) + 1);
	else
		slash[slash == dir] = '\0';
	(void)unlink(tmp);
	/* Created 0600 and widened after: never readable by others early. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 ||
	    fchmod(fd, existed ? st.st_mode & 07777 : newmode) == -1 ||
	    (existed && geteuid() == 0 &&
	    fchown(fd, st.st_uid, st.st_gid) == -1) ||
	    write_full(fd, b->data ? b->data : "", b->len) == -1 ||
	    fsync(fd) == -1) {
		fprintf(stderr, "postilion: user: write %s: %s\n", tmp,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		goto out;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		fprintf(stderr, "postilion: user: rename %s: %s\n", tmp,
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (fsync_dir(dir) == -1)
		fprintf(stderr, "postilion: user: fsync %s: %s\n", dir,
		    strerror(errno));
	rc = 0;
out:
	free(tmp);
	free(dir);
	return rc;
}

/*
 * user_update: in the source of s, replace the key's entry by line (append
 * it when absent; line NULL removes). *matched gets the old entry count.
 */
static int
user_update(const struct user_source *s, const char *key, const char *line,
    mode_t newmode, int *matched)
{
	struct buf out;
	char *text;
	int rc;

	if ((text = user_read_source(s->path)) == NULL)
		return -1;
	buf_init(&out);
	*matched = user_edit(text, key, line, &out);
	free(text);
	if (*matched == 0 && line != NULL) {
		if (out.len > 0 && out.data[out.len - 1] != '\n')
			buf_putc(&out, '\n');
		buf_puts(&out, line);
	}
	rc = user_write_source(s->path, &out, newmode);
	buf_free(&out);
	return rc;
}

static int
user_build(const struct user_source *s)
{
	char err[512];

	if (!s->build)
		return 0;
	if (map_build(s->spec, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "postilion: user: map build: %s\n", err);
		return -1;
	}
	return 0;
}

/* user_has: 1 when the source at path has an entry for key, -1 on error. */
static int
user_has(const char *path, const char *key)
{
	struct buf out;
	char *text;
	int n;

	if ((text = user_read_source(path)) == NULL)
		return -1;
	buf_init(&out);
	n = user_edit(text, key, NULL, &out);
	buf_free(&out);
	free(text);
	return n > 0;
}

/*
 * user_read_password: the first line of stdin when it is not a terminal,
 * else asked twice on the terminal with echo off. Read byte by byte so no
 * copy stays in a stdio buffer.
 */
static int
user_read_password(char *pw, size_t size)
{
	char again[PASSWD_MAX];
	size_t n = 0;
	ssize_t r;
	char c;
	int rc = -1;

	if (!isatty(STDIN_FILENO)) {
		while ((r = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n') {
			if (n + 1 >= size) {
				fprintf(stderr, "postilion: user: password "
				    "too long (limit %zu bytes)\n", size - 1);
				explicit_bzero(pw, size);
				return -1;
			}
			pw[n++] = c;
		}
		if (n > 0 && pw[n - 1] == '\r')
			n--;
		pw[n] = '\0';
	} else {
		if (readpassphrase("Password: ", pw, size,
		    RPP_REQUIRE_TTY) == NULL ||
		    readpassphrase("Retype password: ", again, sizeof(again),
		    RPP_REQUIRE_TTY) == NULL) {
			fprintf(stderr, "postilion: user: cannot read the "
			    "password\n");
			goto out;
		}
		if (strcmp(pw, again) != 0) {
			fprintf(stderr, "postilion: user: passwords do not "
			    "match\n");
			goto out;
		}
	}
	if (*pw == '\0') {
		fprintf(stderr, "postilion: user: empty password\n");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(again, sizeof(again));
	if (rc == -1)
		explicit_bzero(pw, size);
	return rc;
}

/* user_new_hash: read a password and return its stored form. */
static char *
user_new_hash(void)
{
	char pw[PASSWD_MAX], *hash;

	if (user_read_password(pw, sizeof(pw)) == -1)
		return NULL;
	hash = passwd_hash(pw);
	explicit_bzero(pw, sizeof(pw));
	if (hash == NULL)
		fprintf(stderr, "postilion: user: crypt(3) cannot hash the "
		    "password\n");
	return hash;
}

/* user_domain_check: warn when mail for the domain would not be accepted. */
static void
user_domain_check(struct user_ctx *u)
{
	char **v;
	size_t i, n;
	int found = 0, literal = 1;

	v = config_split(config_get(u->cfg, "virtual_mailbox_domains"), &n);
	for (i = 0; i < n; i++) {
		if (strchr(v[i], ':') != NULL || strchr(v[i], '/') != NULL)
			literal = 0;	/* a map: cannot tell from here */
		else if (strcasecmp(v[i], u->at + 1) == 0)
			found = 1;
	}
	config_split_free(v);
	if (!found && literal)
		fprintf(stderr, "postilion: warning: %s is not listed in "
		    "virtual_mailbox_domains\n", u->at + 1);
	if (u->mbox.spec == NULL)
		fprintf(stderr, "postilion: warning: virtual_mailbox_maps is "
		    "empty: no mailbox entry written for %s\n", u->address);
}

/* user_add_mailbox: "ADDRESS  DOMAIN/LOCAL/", unless one was made by hand. */
static int
user_add_mailbox(struct user_ctx *u)
{
	char *local, *line;
	int has, matched, rc;

	if (u->mbox.spec == NULL)
		return 0;
	if ((has = user_has(u->mbox.path, u->address)) != 0)
		return has == 1 ? 0 : -1;
	local = xstrndup(u->address, (size_t)(u->at - u->address));
	line = xasprintf("%s  %s/%s/\n", u->address, u->at + 1, local);
	rc = user_update(&u->mbox, u->address, line, 0644, &matched);
	free(local);
	free(line);
	return rc;
}

static int
user_add(struct user_ctx *u)
{
	char *hash, *line;
	int has, matched, rc = -1;

	if ((has = user_has(u->pw.path, u->address)) != 0)
		goto exists;
	if ((hash = user_new_hash()) == NULL)
		return -1;
	line = xasprintf("%s  %s\n", u->address, hash);
	explicit_bzero(hash, strlen(hash));
	free(hash);
	if (user_lock(u) == -1)
		goto out;
	if ((has = user_has(u->pw.path, u->address)) != 0) {
		explicit_bzero(line, strlen(line));
		free(line);
		goto exists;
	}
	if (user_update(&u->pw, u->address, line, 0600, &matched) == -1 ||
	    user_add_mailbox(u) == -1 || user_build(&u->pw) == -1 ||
	    (u->mbox.spec != NULL && user_build(&u->mbox) == -1))
		goto out;
	user_domain_check(u);
	rc = 0;
out:
	explicit_bzero(line, strlen(line));
	free(line);
	return rc;
exists:
	if (has == 1)
		fprintf(stderr, "postilion: user add: %s already exists\n",
		    u->address);
	return -1;
}

static int
user_passwd(struct user_ctx *u)
{
	char *hash, *line;
	int has, matched, rc = -1;

	if ((has = user_has(u->pw.path, u->address)) != 1)
		goto missing;
	if ((hash = user_new_hash()) == NULL)
		return -1;
	line = xasprintf("%s  %s\n", u->address, hash);
	explicit_bzero(hash, strlen(hash));
	free(hash);
	if (user_lock(u) == 0 &&
	    (has = user_has(u->pw.path, u->address)) == 1 &&
	    user_update(&u->pw, u->address, line, 0600, &matched) == 0 &&
	    user_build(&u->pw) == 0)
		rc = 0;
	explicit_bzero(line, strlen(line));
	free(line);
	if (has != 0)
		return rc;
missing:
	if (has == 0)
		fprintf(stderr, "postilion: user passwd: no such user: %s\n",
		    u->address);
	return -1;
}

static int
user_del(struct user_ctx *u)
{
	int matched, has;

	if (user_lock(u) == -1 ||
	    (has = user_has(u->pw.path, u->address)) == -1)
		return -1;
	if (has == 0) {
		fprintf(stderr, "postilion: user del: no such user: %s\n",
		    u->address);
		return -1;
	}
	if (user_update(&u->pw, u->address, NULL, 0600, &matched) == -1 ||
	    user_build(&u->pw) == -1)
		return -1;
	if (u->mbox.spec != NULL &&
	    ((has = user_has(u->mbox.path, u->address)) == -1 || (has &&
	    (user_update(&u->mbox, u->address, NULL, 0644, &matched) == -1 ||
	    user_build(&u->mbox) == -1))))
		return -1;
	*u->at = '\0';
	fprintf(stderr, "postilion: user del: %s@%s removed; its mail in "
	    "%s/%s/%s/ was left in place\n", u->address, u->at + 1,
	    config_get(u->cfg, "virtual_mailbox_base"), u->at + 1,
	    u->address);
	*u->at = '@';
	return 0;
}

static int
user_list_print(const char *key, const char *value, void *arg)
{
	printf("%s\n", key);
	return 0;
}

static int
user_list(struct config *cfg)
{
	struct user_source pw;
	char err[512], *text;
	int rc;

	if (user_source_get(cfg, "virtual_password_maps", &pw) == -1)
		return 1;
	if (pw.spec == NULL)
		return 0;
	if ((text = user_read_source(pw.path)) == NULL) {
		user_source_free(&pw);
		return 1;
	}
	rc = map_text_parse(text, pw.path, 0, user_list_print, NULL, err,
	    sizeof(err));
	if (rc == -1)
		fprintf(stderr, "postilion: user list: %s\n", err);
	free(text);
	user_source_free(&pw);
	return rc == 0 ? 0 : 1;
}

int
cmd_user(struct config *cfg, int argc, char **argv)
{
	static const struct {
		const char *name;
		int	 (*fn)(struct user_ctx *);
	} cmds[] = {
		{ "add", user_add },
		{ "passwd", user_passwd },
		{ "del", user_del },
	};
	struct user_ctx u;
	size_t i;
	int rc;

	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return user_list(cfg);
	if (argc != 3)
		return user_usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		rc = user_setup(&u, cfg, argv[2]) == 0 && cmds[i].fn(&u) == 0;
		user_cleanup(&u);
		return rc ? 0 : 1;
	}
	return user_usage();
}
