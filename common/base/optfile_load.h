/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef USBWS_OPTFILE_LOAD_H
#define USBWS_OPTFILE_LOAD_H
/* Options files read from disk, for optfile_parse (optfile.h). */
#include "base/optfile.h"

/* At most this many --config files on one command line. */
#define OPTFILE_LOAD_MAX_FILES 16

/* The directory of the default options files: $USBWS_CONF_DIR, or
 * /etc/usbws.  The tests point it elsewhere, so that no test reads the
 * machine's own files. */
const char *optfile_load_dir(void);

/* Reads path (a regular file, at most OPTFILE_MAX_FILE bytes) and hands
 * it to optfile_parse.  Returns optfile_parse's codes, or
 * USBWS_ERR_SYSTEM with errno kept (ENOENT: there is no such file) and
 * why "PATH: strerror", USBWS_ERR_OPTFILE with "PATH: not a regular
 * file". */
int optfile_load(struct optfile *f, const char *path, char *why, size_t why_cap);

/*
 * Reads the files the command line argc/argv names with the option
 * called config, in its order; "none" drops the files named before it.
 * With none named, optfile_load_dir()/default_name is read when it exists.
 * Reads nothing when getopt_long would refuse the line (the program's own
 * loop says why).  Returns 0, or the first failure of optfile_load;
 * USBWS_ERR_INVAL with why when more than OPTFILE_LOAD_MAX_FILES are named.
 */
int optfile_load_given(struct optfile *f, const struct optfile_spec *spec, int argc, char **argv,
		       const char *config, const char *default_name, char *why, size_t why_cap);

#endif
