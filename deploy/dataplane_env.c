/* fanout-dataplane-env: what the systemd unit needs to know of a dataplane config before EAL
 * starts. It loads the config with the dataplane's own validator and prints, as shell and
 * systemd EnvironmentFile lines, the lcore list (main lcore first), the PCI ports to allow-list
 * and check, and the vdev ports. No DPDK: the unit's ExecStartPre runs it (deploy/dataplane-prestart.sh). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: fanout-dataplane-env [--main-lcore N] CONFIG\n"
		   "Validates CONFIG as fanout-dataplane would and prints\n"
		   "  FANOUT_MAIN_LCORE  the EAL main lcore (--main-lcore N, else the lowest lcore no role uses)\n"
		   "  FANOUT_LCORES      the EAL lcore list, main lcore first (for -l)\n"
		   "  FANOUT_PCI         the ports whose device is a PCI address (for -a and the binding check)\n"
		   "  FANOUT_VDEVS       the other ports' device names (given to EAL with --vdev)\n");
}

/* "DDDD:BB:DD.F" in hex, the form EAL's -a and sysfs use. */
static bool is_pci_address(const char *s)
{
	static const char shape[] = "xxxx:xx:xx.x";
	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F');
		if (shape[i] == 'x' ? !hex : s[i] != shape[i])
			return false;
	}
	return true;
}

/* Device names go into a shell-quoted line; anything beyond an ethdev name's characters is refused. */
static bool is_plain_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      strchr("_.:-", *s)))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	long main_lcore = -1;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--main-lcore") && i + 1 < argc) {
			char *end;
			main_lcore = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || main_lcore < 0 || main_lcore >= FO_MAX_LCORES) {
				fprintf(stderr, "fanout-dataplane-env: --main-lcore '%s': give an lcore id 0..%d\n",
					argv[i], FO_MAX_LCORES - 1);
				return 2;
			}
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}

	struct fo_config *cfg;
	char err[512];
	if (fo_config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", path, err);
		return 1;
	}
	bool used[FO_MAX_LCORES] = { false };
	for (uint32_t i = 0; i < cfg->n_lcores; i++)
		used[cfg->lcores[i].lcore] = true; /* the validator bounds lcore ids by FO_MAX_LCORES */
	if (main_lcore < 0) {
		for (main_lcore = 0; main_lcore < FO_MAX_LCORES && used[main_lcore]; main_lcore++)
			;
	} else if (used[main_lcore]) {
		fprintf(stderr,
			"fanout-dataplane-env: --main-lcore %ld is also in %s's lcores; the main lcore serves control "
			"and stats, give it a CPU no role uses\n",
			main_lcore, path);
		fo_config_free(cfg);
		return 1;
	}
	if (main_lcore >= FO_MAX_LCORES) {
		fprintf(stderr, "fanout-dataplane-env: %s uses every lcore id; none is left for the main lcore\n",
			path);
		fo_config_free(cfg);
		return 1;
	}
	for (uint32_t i = 0; i < cfg->n_ports; i++)
		if (!is_plain_name(cfg->ports[i].device)) {
			fprintf(stderr,
				"fanout-dataplane-env: ports[%u].device '%s' is not an ethdev name (letters, digits, "
				"'_', '.', ':', '-'); vdev arguments belong in FANOUT_EAL_ARGS (--vdev)\n",
				i, cfg->ports[i].device);
			fo_config_free(cfg);
			return 1;
		}

	printf("FANOUT_MAIN_LCORE=%ld\n", main_lcore);
	printf("FANOUT_LCORES=\"%ld", main_lcore);
	for (unsigned l = 0; l < FO_MAX_LCORES; l++)
		if (used[l])
			printf(",%u", l);
	printf("\"\nFANOUT_PCI=\"");
	const char *sep = "";
	for (uint32_t i = 0; i < cfg->n_ports; i++)
		if (is_pci_address(cfg->ports[i].device)) {
			printf("%s%s", sep, cfg->ports[i].device);
			sep = " ";
		}
	printf("\"\nFANOUT_VDEVS=\"");
	sep = "";
	for (uint32_t i = 0; i < cfg->n_ports; i++)
		if (!is_pci_address(cfg->ports[i].device)) {
			printf("%s%s", sep, cfg->ports[i].device);
			sep = " ";
		}
	printf("\"\n");
	fo_config_free(cfg);
	return ferror(stdout) ? 1 : 0;
}
