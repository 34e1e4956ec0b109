/*
 * passwd: password hashes as stored in virtual_password_maps, in Dovecot's
 * "{SCHEME}data" form: {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT},
 * {MD5-CRYPT} and {CRYPT} through crypt(3), {PLAIN}. Security: comparisons
 * run in constant time; a password of PASSWD_MAX bytes or more never matches.
 */
#ifndef POSTILION_PASSWD_H
#define POSTILION_PASSWD_H

/* crypt(3) takes passwords shorter than this (libxcrypt's buffer size). */
#define PASSWD_MAX	512

/* passwd_verify: 1 when password matches stored, else 0 (also on errors). */
int	passwd_verify(const char *stored, const char *password);
/* passwd_hash: "{SHA512-CRYPT}$6$salt$hash" (malloc'd) or NULL. */
char	*passwd_hash(const char *password);

#endif
