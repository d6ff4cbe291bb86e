/* The XDP pre-filter's maps through libbpf (xdp_maps.h): found from the program on the
 * interface, pinned in bpffs, read and edited by fd. Plain syscalls, no DPDK. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "xdp_maps.h"

#define BPF_FS_MAGIC_ 0xcafe4a11

const char *const fo_xdp_map_names[FO_XM_MAX] = {
	[FO_XM_XSKS] = FO_XDP_MAP_XSKS,     [FO_XM_CFG] = FO_XDP_MAP_CFG,   [FO_XM_BLOCK4] = FO_XDP_MAP_BLOCK4,
	[FO_XM_BLOCK6] = FO_XDP_MAP_BLOCK6, [FO_XM_RATE] = FO_XDP_MAP_RATE, [FO_XM_STATS] = FO_XDP_MAP_STATS,
};

void fo_xdp_init(struct fo_xdp *x)
{
	memset(x, 0, sizeof(*x));
	for (int i = 0; i < FO_XM_MAX; i++)
		x->fd[i] = -1;
}

static void close_all(struct fo_xdp *x)
{
	for (int i = 0; i < FO_XM_MAX; i++) {
		if (x->fd[i] >= 0)
			close(x->fd[i]);
		x->fd[i] = -1;
	}
}

static int pin_path(const struct fo_xdp *x, int m, char *buf, size_t n)
{
	int len = snprintf(buf, n, "%s/%s", x->dir, fo_xdp_map_names[m]);
	return len < 0 || (size_t)len >= n ? -1 : 0;
}

static void unpin_all(struct fo_xdp *x)
{
	char p[192];

	for (int m = 0; m < FO_XM_MAX; m++)
		if (!pin_path(x, m, p, sizeof(p)))
			unlink(p);
	rmdir(x->dir);
}

/* Which of our maps the program uses: fills x->fd from its map ids; 1 if all are there. */
static int maps_of_prog(struct fo_xdp *x, int prog_fd)
{
	uint32_t ids[16];
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 16;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -1;
	uint32_t n = info.nr_map_ids < 16 ? info.nr_map_ids : 16;
	for (uint32_t i = 0; i < n; i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		struct bpf_map_info mi;
		uint32_t ml = sizeof(mi);
		memset(&mi, 0, sizeof(mi));
		int m = FO_XM_MAX;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &ml))
			for (m = 0; m < FO_XM_MAX; m++)
				if (!strncmp(mi.name, fo_xdp_map_names[m], sizeof(mi.name)) && x->fd[m] < 0)
					break;
		if (m < FO_XM_MAX)
			x->fd[m] = fd;
		else
			close(fd);
	}
	for (int m = 0; m < FO_XM_MAX; m++)
		if (x->fd[m] < 0)
			return 0;
	return 1;
}

int fo_xdp_take(struct fo_xdp *x, int ifindex, const char *ifname, char *err, size_t errlen)
{
	uint32_t id = 0;
	char p[192];
	struct statfs sf;

	fo_xdp_init(x);
	if (bpf_xdp_query_id(ifindex, 0, &id) || id == 0)
		return 0;
	int prog_fd = bpf_prog_get_fd_by_id(id);
	if (prog_fd < 0) {
		snprintf(err, errlen, "%s: XDP program %u: %s", ifname, id, strerror(errno));
		return -1;
	}
	int found = maps_of_prog(x, prog_fd);
	close(prog_fd);
	if (found <= 0) {
		close_all(x);
		return found < 0 ? (snprintf(err, errlen, "%s: XDP program %u: %s", ifname, id, strerror(errno)), -1)
				 : 0;
	}
	x->prog_id = id;
	if (statfs("/sys/fs/bpf", &sf) || sf.f_type != BPF_FS_MAGIC_) {
		snprintf(err, errlen,
			 "%s: /sys/fs/bpf is not a bpf filesystem, so the pre-filter's maps cannot be pinned; "
			 "mount it (mount -t bpf bpf /sys/fs/bpf)",
			 ifname);
		close_all(x);
		return -1;
	}
	snprintf(x->dir, sizeof(x->dir), "%s/%s", FO_XDP_PIN_ROOT, ifname);
	if ((mkdir(FO_XDP_PIN_ROOT, 0700) && errno != EEXIST) || (mkdir(x->dir, 0700) && errno != EEXIST)) {
		snprintf(err, errlen, "%s: mkdir %s: %s", ifname, x->dir, strerror(errno));
		close_all(x);
		return -1;
	}
	for (int m = 0; m < FO_XM_MAX; m++) {
		if (pin_path(x, m, p, sizeof(p))) {
			snprintf(err, errlen, "%s: pin path too long", ifname);
			goto fail;
		}
		unlink(p); /* a pin of an earlier run that ended without removing it */
		if (bpf_obj_pin(x->fd[m], p)) {
			snprintf(err, errlen, "%s: pin %s: %s", ifname, p, strerror(errno));
			goto fail;
		}
	}
	x->pinned = true;
	return 1;
fail:
	unpin_all(x);
	close_all(x);
	return -1;
}

int fo_xdp_set_target(struct fo_xdp *x, uint32_t ipv4, const uint8_t *ipv6, const uint16_t *ports, int n_ports,
		      char *err, size_t errlen)
{
	struct fo_xdp_cfg c;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(x->fd[FO_XM_CFG], &zero, &c))
		memset(&c, 0, sizeof(c));
	c.ipv4_be = htobe32(ipv4);
	c.ipv6_on = ipv6 != NULL;
	memset(c.ipv6_be, 0, sizeof(c.ipv6_be));
	if (ipv6)
		memcpy(c.ipv6_be, ipv6, sizeof(c.ipv6_be));
	memset(c.ports_be, 0, sizeof(c.ports_be));
	for (int i = 0; i < n_ports && i < FO_XDP_MAX_PORTS; i++)
		c.ports_be[i] = htobe16(ports[i]);
	if (bpf_map_update_elem(x->fd[FO_XM_CFG], &zero, &c, BPF_ANY)) {
		snprintf(err, errlen, "%s: %s", FO_XDP_MAP_CFG, strerror(errno));
		return -1;
	}
	return 0;
}

void fo_xdp_release(struct fo_xdp *x)
{
	if (x->pinned)
		unpin_all(x);
	x->pinned = false;
	close_all(x);
}

int fo_xdp_detach(int ifindex, uint32_t prog_id)
{
	uint32_t id = 0;

	if (prog_id == 0 || bpf_xdp_query_id(ifindex, 0, &id) || id != prog_id)
		return 0;
	return bpf_xdp_detach(ifindex, 0, NULL) == 0;
}

int fo_xdp_open(struct fo_xdp *x, const char *dir, char *err, size_t errlen)
{
	char p[192];

	fo_xdp_init(x);
	snprintf(x->dir, sizeof(x->dir), "%s", dir);
	for (int m = 0; m < FO_XM_MAX; m++) {
		if (m == FO_XM_XSKS)
			continue; /* the PMD's: never edited from here */
		if (pin_path(x, m, p, sizeof(p)) || (x->fd[m] = bpf_obj_get(p)) < 0) {
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			close_all(x);
			return -1;
		}
	}
	return 0;
}

void fo_xdp_close(struct fo_xdp *x)
{
	close_all(x);
}

int fo_xdp_verdicts(const struct fo_xdp *x, uint64_t out[FO_XDP_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || ncpu > 1024)
		return -1;
	uint64_t v[ncpu];
	for (uint32_t k = 0; k < FO_XDP_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(x->fd[FO_XM_STATS], &k, v))
			return -1;
		for (int c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	return 0;
}

static int block_fd(const struct fo_xdp *x, const struct fo_prefix *p)
{
	return x->fd[p->family == 4 ? FO_XM_BLOCK4 : FO_XM_BLOCK6];
}

/* The trie's key for p: prefixlen then the address (4 or 16 bytes). */
static void lpm_key(const struct fo_prefix *p, struct fo_xdp_lpm6 *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = p->len;
	memcpy(k->addr, p->addr, p->family == 4 ? 4 : 16);
}

int fo_xdp_block_add(struct fo_xdp *x, const struct fo_prefix *p, char *err, size_t errlen)
{
	struct fo_xdp_lpm6 k;
	uint64_t zero = 0;

	lpm_key(p, &k);
	if (bpf_map_update_elem(block_fd(x, p), &k, &zero, BPF_NOEXIST) && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", p->family == 4 ? FO_XDP_MAP_BLOCK4 : FO_XDP_MAP_BLOCK6,
			 errno == ENOSPC || errno == E2BIG ? "full ("
							     "4096 prefixes per family)"
							   : strerror(errno));
		return -1;
	}
	return 0;
}

int fo_xdp_block_del(struct fo_xdp *x, const struct fo_prefix *p, char *err, size_t errlen)
{
	struct fo_xdp_lpm6 k;

	lpm_key(p, &k);
	if (!bpf_map_delete_elem(block_fd(x, p), &k))
		return 1;
	if (errno == ENOENT)
		return 0;
	snprintf(err, errlen, "%s: %s", p->family == 4 ? FO_XDP_MAP_BLOCK4 : FO_XDP_MAP_BLOCK6, strerror(errno));
	return -1;
}

int fo_xdp_block_list(const struct fo_xdp *x, void (*fn)(void *arg, const struct fo_prefix *p, uint64_t drops),
		      void *arg)
{
	int n = 0;

	for (int fam = 4; fam <= 6; fam += 2) {
		int fd = x->fd[fam == 4 ? FO_XM_BLOCK4 : FO_XM_BLOCK6];
		struct fo_xdp_lpm6 k, next;
		void *prev = NULL;
		for (int guard = 0; guard <= FO_XDP_BLOCK_ENTRIES; guard++) {
			if (bpf_map_get_next_key(fd, prev, &next))
				break;
			uint64_t drops = 0;
			struct fo_prefix p = { .family = (uint8_t)fam, .len = (uint8_t)next.prefixlen };
			memcpy(p.addr, next.addr, fam == 4 ? 4 : 16);
			if (!bpf_map_lookup_elem(fd, &next, &drops)) {
				fn(arg, &p, drops);
				n++;
			}
			k = next;
			prev = &k;
		}
	}
	return n;
}

int fo_xdp_limit_set(struct fo_xdp *x, uint32_t pps, uint32_t burst, char *err, size_t errlen)
{
	struct fo_xdp_cfg c;
	struct fo_xdp_rate_key src;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(x->fd[FO_XM_CFG], &zero, &c)) {
		snprintf(err, errlen, "%s: %s", FO_XDP_MAP_CFG, strerror(errno));
		return -1;
	}
	c.rate_pps = pps;
	c.rate_burst = burst;
	if (bpf_map_update_elem(x->fd[FO_XM_CFG], &zero, &c, BPF_ANY)) {
		snprintf(err, errlen, "%s: %s", FO_XDP_MAP_CFG, strerror(errno));
		return -1;
	}
	for (int guard = 0; guard < 2 * FO_XDP_RATE_ENTRIES; guard++)
		if (bpf_map_get_next_key(x->fd[FO_XM_RATE], NULL, &src) || bpf_map_delete_elem(x->fd[FO_XM_RATE], &src))
			break;
	return 0;
}

int fo_xdp_limit_get(const struct fo_xdp *x, uint32_t *pps, uint32_t *burst)
{
	struct fo_xdp_cfg c;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(x->fd[FO_XM_CFG], &zero, &c))
		return -1;
	*pps = c.rate_pps;
	*burst = c.rate_burst;
	return 0;
}
