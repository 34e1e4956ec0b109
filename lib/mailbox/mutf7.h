/*
 * mutf7: IMAP's modified UTF-7 for mailbox names (RFC 3501 5.1.3), to and
 * from UTF-8. Decoding is strict: printable ASCII must stand for itself,
 * so "&AC8-" (a '/') or "&AC4ALg-" ("..") cannot smuggle a separator or a
 * dot past a check done on the encoded name; controls and NUL are refused.
 */
#ifndef POSTILION_MUTF7_H
#define POSTILION_MUTF7_H

#include <stddef.h>

#include "core/buf.h"

/* mutf7_to_utf8: append the UTF-8 form of in (len) to out; 0 or -1. */
int	mutf7_to_utf8(const char *in, size_t len, struct buf *out);
/* utf8_to_mutf7: append the modified UTF-7 form; -1 on invalid UTF-8. */
int	utf8_to_mutf7(const char *in, size_t len, struct buf *out);

/*
 * mutf7_folder_path: the Maildir++ folder (relative to the user's Maildir)
 * of an IMAP mailbox name with '/' between levels: "." for INBOX (any
 * case), ".Archive.2024" for "Archive/2024". -1 (refused) for names over
 * maxlen, empty levels, a leading or trailing '/', '.', '\\', wildcards,
 * and any name that is not the canonical modified UTF-7 of valid text.
 */
int	mutf7_folder_path(const char *name, size_t maxlen, char *path,
	    size_t pathlen);

#endif
