/*
 * config: main.cf in Postfix's syntax (name = value, whitespace-led
 * continuation lines, # comments, last definition wins) with $name, ${name},
 * ${name?value}, ${name:value} and $$ expansion on lookup, over built-in
 * defaults. Values returned stay valid until config_free().
 */
#ifndef POSTILION_CONFIG_H
#define POSTILION_CONFIG_H

#include <stddef.h>

struct config;

/* config_new: an empty configuration holding only the built-in defaults. */
struct config *config_new(const char *confdir);
/* config_load: defaults + DIR/main.cf; NULL with a message in err. */
struct config *config_load(const char *confdir, char *err, size_t errlen);
/* config_parse: add main.cf text; -1 with "file, line N: ..." in err. */
int	config_parse(struct config *, const char *text, const char *filename,
	    char *err, size_t errlen);
/* config_set: define name (a -o override or a parsed line). */
void	config_set(struct config *, const char *name, const char *value);
void	config_free(struct config *);

/* config_get: expanded value, "" when undefined (never NULL). */
const char *config_get(struct config *, const char *);
/* config_raw: unexpanded value or NULL; config_is_default: not set by file. */
const char *config_raw(struct config *, const char *);
int	config_is_set(struct config *, const char *);
long long config_get_int(struct config *, const char *);
/* config_get_transport_int: TRANSPORT_SUFFIX if set, else default_SUFFIX. */
long long config_get_transport_int(struct config *, const char *transport,
	    const char *suffix);
/* config_get_time: seconds; the value may end in s, m, h, d or w. */
long long config_get_time(struct config *, const char *);
/* config_get_bool: yes/true/1/on versus no/false/0/off. */
int	config_get_bool(struct config *, const char *);
/* config_expand: expand $ references in an arbitrary string (malloc'd). */
char	*config_expand(struct config *, const char *);

/* Iteration for `postilion config`: names sorted; n-th or NULL. */
const char *config_name_at(struct config *, size_t, int *is_default);

/* Parsing helpers shared with master.cf and the maps. */
long long config_parse_time(const char *, const char **errstr);
/* config_split: split a list at commas and whitespace; NULL-terminated. */
char	**config_split(const char *, size_t *);
/* config_split_sep: the same with the given separator characters. */
char	**config_split_sep(const char *, const char *, size_t *);
void	config_split_free(char **);

#endif
