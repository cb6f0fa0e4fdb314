/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "usbids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ids_path(void)
{
	static const char *const candidates[] = { "/usr/share/hwdata/usb.ids", "/usr/share/misc/usb.ids" };
	const char *env = getenv("USBWS_USB_IDS");
	size_t i;

	if (env && *env)
		return env;
	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		FILE *f = fopen(candidates[i], "r");

		if (f) {
			fclose(f);
			return candidates[i];
		}
	}
	return NULL;
}

/* "xxxx  Name" after the given number of leading tabs */
static int id_line(const char *line, int tabs, unsigned int *id, const char **name)
{
	char *end;
	int i;

	for (i = 0; i < tabs; i++)
		if (line[i] != '\t')
			return 0;
	line += tabs;
	if (line[0] == '\t' || line[0] == '#' || strlen(line) < 6)
		return 0;
	*id = (unsigned int)strtoul(line, &end, 16);
	if (end != line + 4 || end[0] != ' ')
		return 0;
	while (*end == ' ')
		end++;
	*name = end;
	return 1;
}

void usbids_lookup(uint16_t vid, uint16_t pid, char *vendor, size_t vcap, char *product, size_t pcap)
{
	const char *path = ids_path();
	char line[512];
	const char *name;
	unsigned int id;
	int in_vendor = 0;
	FILE *f;

	vendor[0] = product[0] = '\0';
	if (!path || !(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		/* the device classes and other tables follow the vendors */
		if (strncmp(line, "C ", 2) == 0)
			break;
		if (id_line(line, 0, &id, &name)) {
			if (in_vendor)
				break;
			if (id == vid) {
				snprintf(vendor, vcap, "%s", name);
				in_vendor = 1;
			}
		} else if (in_vendor && id_line(line, 1, &id, &name) && id == pid) {
			snprintf(product, pcap, "%s", name);
			break;
		}
	}
	fclose(f);
}
