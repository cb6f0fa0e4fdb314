/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Options files read from disk (optfile_load.h). */
#include "base/optfile_load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/usbws_err.h"

const char *optfile_load_dir(void)
{
	const char *dir = getenv("USBWS_CONF_DIR");

	return dir && *dir ? dir : "/etc/usbws";
}

int optfile_load(struct optfile *f, const char *path, char *why, size_t why_cap)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	/* O_NONBLOCK: a FIFO in the file's place must not hang the program */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = usbws_why(why, why_cap, USBWS_ERR_OPTFILE, "%s: not a regular file", path);
		goto out;
	}
	/* one byte more than allowed tells a file that is too large */
	buf = malloc(OPTFILE_MAX_FILE + 1);
	if (!buf) {
		rc = usbws_why(why, why_cap, USBWS_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len < OPTFILE_MAX_FILE + 1) {
		ssize_t got = read(fd, buf + len, OPTFILE_MAX_FILE + 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	rc = optfile_parse(f, path, buf, len, why, why_cap);
out:
	free(buf);
	close(fd);
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
