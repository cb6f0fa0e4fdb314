/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "base/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/usbws_err.h"

int privdrop_to(const char *user, char *why, size_t why_cap)
{
	struct passwd *pw;
	pid_t parent = getppid();
	int deathsig = 0;

	prctl(PR_GET_PDEATHSIG, &deathsig, 0, 0, 0);
	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return usbws_why(why, why_cap, USBWS_ERR_INVAL, "no user %s%s%s", user, errno ? ": " : "",
				 errno ? strerror(errno) : "");
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "cannot become %s: %s", user, strerror(errno));
	/* a way back would make the drop decoration */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return usbws_why(why, why_cap, USBWS_ERR_SYSTEM, "became %s but could become root again", user);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	/* the kernel forgets the parent-death signal on a change of uid: a
	 * hotplug child must still stop with its supervisor */
	if (deathsig) {
		prctl(PR_SET_PDEATHSIG, deathsig, 0, 0, 0);
		if (getppid() != parent)
			raise(deathsig);
	}
	return 0;
}
