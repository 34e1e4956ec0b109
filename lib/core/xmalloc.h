/*
 * xmalloc: allocation that never returns NULL. Out of memory is fatal to
 * the process (master restarts it); no caller ever checks for NULL.
 */
#ifndef POSTILION_XMALLOC_H
#define POSTILION_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
