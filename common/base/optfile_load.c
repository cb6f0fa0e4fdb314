/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Options files read from disk (optfile_load.h). */
#include "base/optfile_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/textfile.h"
#include "base/usbws_err.h"

const char *optfile_load_dir(void)
{
	const char *dir = getenv("USBWS_CONF_DIR");

	return dir && *dir ? dir : "/etc/usbws";
}

int optfile_load(struct optfile *f, const char *path, char *why, size_t why_cap)
{
	char *text;
	size_t len;
	int rc = textfile_read(path, OPTFILE_MAX_FILE, USBWS_ERR_OPTFILE, &text, &len, why, why_cap);

	if (rc < 0)
		return rc;
	rc = optfile_parse(f, path, text, len, why, why_cap);
	free(text);
	return rc;
}

int optfile_load_given(struct optfile *f, const struct optfile_spec *spec, int argc, char **argv,
		       const char *config, const char *default_name, char *why, size_t why_cap)
{
	const char *files[OPTFILE_LOAD_MAX_FILES];
	char path[4096];
	int n, i, first = 0, rc;

	n = optfile_scan(spec, argc, argv, config, files, OPTFILE_LOAD_MAX_FILES);
	if (n == USBWS_ERR_INVAL)
		return 0;
	if (n < 0)
		return usbws_why(why, why_cap, n, "out of memory");
	if (n > OPTFILE_LOAD_MAX_FILES)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "at most %d --%s files", OPTFILE_LOAD_MAX_FILES,
				 config);
	if (n == 0) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", optfile_load_dir(), default_name) >= sizeof(path))
			return usbws_why(why, why_cap, USBWS_ERR_INVAL, "%s/%s: too long a path",
					 optfile_load_dir(), default_name);
		rc = optfile_load(f, path, why, why_cap);
		/* the default is read only where it is */
		if (rc == USBWS_ERR_SYSTEM && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		return rc;
	}
	for (i = 0; i < n; i++)
		if (strcmp(files[i], "none") == 0)
			first = i + 1;
	for (i = first; i < n; i++) {
		rc = optfile_load(f, files[i], why, why_cap);
		if (rc < 0)
			return rc;
	}
	return 0;
}
