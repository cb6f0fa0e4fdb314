/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/textfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/usbws_err.h"

int textfile_read(const char *path, size_t max, int not_regular, char **text, size_t *len, char *why,
		  size_t why_cap)
{
	struct stat st;
	char *buf = NULL;
	size_t got_len = 0;
	int fd, rc = 0, rc_errno;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = usbws_why(why, why_cap, not_regular, "%s: not a regular file", path);
		goto out;
	}
	/* one byte more than allowed tells a file that is too large */
	buf = malloc(max + 1);
	if (!buf) {
		rc = usbws_why(why, why_cap, USBWS_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (got_len < max + 1) {
		ssize_t got = read(fd, buf + got_len, max + 1 - got_len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		got_len += (size_t)got;
	}
out:
	/* the caller may look at errno: close must not change it */
	rc_errno = errno;
	close(fd);
	errno = rc_errno;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = got_len;
	return 0;
}
