/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tunnel/resume.h"

#include "base/usbws_err.h"

int resume_acked(struct resume_stream *rs, struct ring *out, uint64_t upto)
{
	size_t drop;

	/* the peer cannot hold less than it said before, nor more than went */
	if (upto < rs->acked || upto - rs->acked > rs->sent)
		return USBWS_ERR_RESUME_OFFSET;
	drop = (size_t)(upto - rs->acked);
	ring_consume(out, drop);
	rs->sent -= drop;
	rs->acked = upto;
	return 0;
}

int resume_rewind(struct resume_stream *rs, struct ring *out, uint64_t peer_has)
{
	int rc = resume_acked(rs, out, peer_has);

	if (rc == 0)
		rs->sent = 0;
	return rc;
}
