/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stands in for libFuzzer's main() when the fuzz targets build with gcc:
 * replays every file of the target's corpus through LLVMFuzzerTestOneInput
 * and reports one TAP result.  An empty or missing corpus fails, so a replay
 * that tested nothing never passes.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int replay_file(const char *path, size_t *bytes)
{
	uint8_t *buf = NULL;
	struct stat st;
	FILE *f;
	int rc = -1;

	f = fopen(path, "rb");
	if (!f)
		return -1;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
	*bytes += (size_t)st.st_size;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	char dir[4096], path[8192];
	const char *base = getenv("FUZZ_CORPUS_DIR");
	struct dirent *de;
	size_t files = 0, bytes = 0;
	DIR *d;

	if (argc > 1)
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	else
		snprintf(dir, sizeof(dir), "%s/%s", base ? base : "tests/fuzz/corpus", FUZZ_NAME);
	printf("1..1\n");
	d = opendir(dir);
	if (!d) {
		printf("not ok 1 - %s: cannot open corpus %s: %s\n", FUZZ_NAME, dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (replay_file(path, &bytes) < 0) {
			printf("not ok 1 - %s: cannot read %s\n", FUZZ_NAME, path);
			closedir(d);
			return 1;
		}
		files++;
	}
	closedir(d);
	if (files == 0) {
		printf("not ok 1 - %s: corpus %s is empty\n", FUZZ_NAME, dir);
		return 1;
	}
	printf("ok 1 - %s: replayed %zu corpus inputs (%zu bytes) without a crash or broken invariant\n",
	       FUZZ_NAME, files, bytes);
	return 0;
}
