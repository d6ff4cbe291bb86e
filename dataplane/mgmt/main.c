/* fanout-dataplane: the DPDK primary process. Setup maps the config onto ethdev ports,
 * mbuf pools, rte_rings and lcore roles, launches the lcore loops, then the main lcore
 * waits for signals (SIGUSR1: stats snapshot; SIGINT/SIGTERM: drain and exit), serving the
 * control socket and sending the periodic ADVERTISE meanwhile.
 * Usage: fanout-dataplane [EAL args] -- --config FILE [--stats FILE] [--duration SEC] */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <rte_mbuf_dyn.h>

#include "advertise.h"
#include "broker_hash.h"
#include "control_socket.h"
#include "dataplane.h"
#include "discovery.h"
#include "outputs.h"
#include "telemetry.h"

struct fo_dp fo_dp;
struct fo_lcore_stats fo_stats[RTE_MAX_LCORE];
bool fo_port_multi_seg[FO_MAX_PORTS];

/* Key of every neighbour table's hash, drawn once per process: ARP senders cannot know which
 * addresses share a probe window. */
static uint64_t neigh_seed[2];

static int neigh_seed_init(void)
{
	uint8_t *b = (uint8_t *)neigh_seed;
	size_t got = 0;
	while (got < sizeof(neigh_seed)) {
		ssize_t n = getrandom(b + got, sizeof(neigh_seed) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "getrandom: %s; the neighbour tables need a random hash key\n",
				strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Main lcore, every FO_NEIGH_AGE_MS: free what has aged in the next 1 % of each table, so a
 * whole table is looked at about once a second. */
static void age_neighbours(uint64_t now_ms)
{
	struct fo_counters *c = &fo_stats[rte_get_main_lcore()].c;
	for (uint16_t i = 0; i < fo_dp.n_ports; i++) {
		struct fo_neigh_table *t = fo_dp.ports[i].neigh;
		uint32_t resolved, pending;
		c->ev[FO_EV_ARP_EXPIRED] += fo_neigh_age(t, now_ms, fo_neigh_capacity(t) / 100 + 1, &resolved,
							 &pending);
		if ((t = fo_dp.ports[i].neigh6) != NULL)
			c->ev[FO_EV_ND_EXPIRED] += fo_neigh_age(t, now_ms, fo_neigh_capacity(t) / 100 + 1, &resolved,
								&pending);
	}
}

static volatile sig_atomic_t quit_signal;
static volatile sig_atomic_t dump_signal;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump_signal = 1;
	else
		quit_signal = sig;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL args] -- --config FILE [--stats FILE] [--duration SEC] [--control PATH]\n"
		"  --config FILE    dataplane config (YAML; see docs/config.md)\n"
		"  --stats FILE     JSON stats snapshot path (SIGUSR1 and exit); overrides stats.file\n"
		"  --duration SEC   stop by itself after SEC seconds (tests, demos)\n"
		"  --control PATH   serve RESP on a unix socket (docs/control.md); try: redis-cli -s PATH INFO\n"
		"  --control-mode OCTAL   its permissions (default 0600)\n"
		"  --control-group GROUP  its group (with --control-mode 0660, operators in GROUP may use it)\n"
		"Always give EAL an explicit device list (--no-pci with --vdev, or -a) on shared machines.\n",
		prog);
}

struct app_args {
	const char *config;
	const char *stats;
	double duration;
	const char *control;
	mode_t control_mode;
	const char *control_group;
};

/* App arguments come after "--"; they are parsed before EAL so a bad config is refused
 * before any hugepage or device is touched. */
static int parse_app_args(int argc, char **argv, struct app_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "stats", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "control", required_argument, NULL, 'k' },
		{ "control-mode", required_argument, NULL, 'm' },
		{ "control-group", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	optind = 1;
	a->control_mode = 0600;
	while ((o = getopt_long(argc, argv, "c:s:d:k:m:g:h", opts, NULL)) != -1) {
		switch (o) {
		case 'k': a->control = optarg; break;
		case 'g': a->control_group = optarg; break;
		case 'm': {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);
			if (*end || end == optarg || m > 0777 || (m & 0600) != 0600) {
				fprintf(stderr,
					"--control-mode: '%s' is not an octal mode 0600..0777 that keeps the owner's "
					"read and write bits; e.g. 0660\n",
					optarg);
				return -1;
			}
			a->control_mode = (mode_t)m;
			break;
		}
		case 'c': a->config = optarg; break;
		case 's': a->stats = optarg; break;
		case 'd': {
			char *end;
			a->duration = strtod(optarg, &end);
			if (*end || a->duration <= 0) {
				fprintf(stderr, "--duration: '%s' is not a positive number of seconds\n", optarg);
				return -1;
			}
			break;
		}
		default: return -1;
		}
	}
	if (!a->config) {
		fprintf(stderr, "missing --config FILE (after '--', following the EAL arguments)\n");
		return -1;
	}
	return 0;
}

/* The mbuf dynfield and flag that carry a built frame's rx TSC and generation slot to tx. */
static int register_meta(void)
{
	static const struct rte_mbuf_dynfield field = {
		.name = "fanout_meta",
		.size = sizeof(struct fo_meta),
		.align = __alignof__(struct fo_meta),
	};
	static const struct rte_mbuf_dynflag flag = { .name = "fanout_meta_set" };
	fo_dp.meta_off = rte_mbuf_dynfield_register(&field);
	int bit = rte_mbuf_dynflag_register(&flag);
	if (fo_dp.meta_off < 0 || bit < 0) {
		fprintf(stderr, "cannot register the mbuf dynamic field for latency stamps: %s\n",
			rte_strerror(rte_errno));
		return -1;
	}
	fo_dp.meta_flag = 1ULL << bit;
	return 0;
}

/* Session hand-over messages: a claimant asks every other worker at most, a reply reuses its
 * claim's element; room for a few claims at once per worker (beyond, a claim fails: CONNACK
 * congestion, handover_failed). */
static uint32_t fo_ho_pool_size(void)
{
	uint32_t n = 4 * fo_dp.n_workers;
	return n < 8 ? 8 : n;
}

static struct rte_ring *make_ring(const char *fmt, unsigned idx, uint32_t size)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), fmt, idx);
	/* Several producers (rx lcores, workers), one consumer: RING_F_SC_DEQ. */
	struct rte_ring *r = rte_ring_create(name, size, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (!r)
		fprintf(stderr, "ring %s (%u entries): %s; lower rings.* or add hugepages\n", name, size,
			rte_strerror(rte_errno));
	return r;
}

static void list_ethdevs(void)
{
	uint16_t pid;
	char name[RTE_ETH_NAME_MAX_LEN];
	fprintf(stderr, "  ethdevs present:");
	int n = 0;
	RTE_ETH_FOREACH_DEV(pid)
	{
		if (rte_eth_dev_get_name_by_port(pid, name) == 0) {
			fprintf(stderr, " %s", name);
			n++;
		}
	}
	fprintf(stderr, "%s\n", n ? "" : " none (pass --vdev or -a to EAL)");
}

/* A net_af_xdp port started with xdp_prog= the pre-filter: the PMD has loaded and attached it;
 * pin its maps and point it at this port's address and MQTT-SN port. Another program, or none,
 * is left alone. */
static int take_xdp(uint16_t idx, const struct fo_port_config *pc, struct fo_port *p, const struct rte_eth_dev_info *di)
{
	char ifn[IF_NAMESIZE], err[256];

	fo_xdp_init(&p->xdp);
	if (strcmp(di->driver_name, "net_af_xdp") || di->if_index == 0 || !if_indextoname(di->if_index, ifn))
		return 0;
	int rc = fo_xdp_take(&p->xdp, (int)di->if_index, ifn, err, sizeof(err));
	if (rc == 1 &&
	    fo_xdp_set_target(&p->xdp, pc->ip, pc->has_ip6 ? pc->ip6 : NULL, &pc->mqttsn_port, 1, err, sizeof(err)))
		rc = -1;
	if (rc < 0) {
		fprintf(stderr, "ports[%u] (%s): XDP pre-filter: %s\n", idx, pc->device, err);
		fo_xdp_release(&p->xdp);
		return -1;
	}
	if (rc == 1) {
		p->xdp_on = true;
		p->if_index = (int)di->if_index;
		printf("ports[%u] (%s): XDP pre-filter (program %u) on %s, maps pinned in %s\n", idx, pc->device,
		       p->xdp.prog_id, ifn, p->xdp.dir);
	}
	return 0;
}

/* The multicast MACs the port must take besides its own and broadcast: the discovery groups' (IPv4
 * and IPv6) and the solicited-node groups of its IPv6 addresses (Neighbor Solicitations). A filter
 * list where the device has one, else all-multicast; virtual devices that take every frame need
 * neither. */
static void join_groups(unsigned idx, uint16_t pid, const struct l2l4_iface *ifc)
{
	struct rte_ether_addr mc[4];
	uint32_t n = 0;
	if (ifc->group && fo_disc_group_mac(ifc->group, ifc->ip, ifc->netmask, mc[n].addr_bytes))
		n++;
	if (ifc->has_ip6) {
		mc[n++] = (struct rte_ether_addr){ { 0x33, 0x33, 0xff, ifc->ip6[13], ifc->ip6[14], ifc->ip6[15] } };
		mc[n++] = (struct rte_ether_addr){ { 0x33, 0x33, 0xff, ifc->ll6[13], ifc->ll6[14], ifc->ll6[15] } };
		if (ifc->has_group6)
			fo_disc_group6_mac(ifc->group6, mc[n++].addr_bytes);
	}
	if (n == 0 || rte_eth_dev_set_mc_addr_list(pid, mc, n) == 0)
		return;
	int rc = rte_eth_allmulticast_enable(pid);
	if (rc != 0 && rc != -ENOTSUP)
		fprintf(stderr,
			"ports[%u]: warning: neither a multicast filter nor all-multicast (%s): "
			"SEARCHGW to the group and Neighbor Solicitations may not arrive\n",
			idx, rte_strerror(-rc));
}

/* The port's MTU (datagrams longer leave as fragments), and whether a message of
 * limits.max_message_bytes arriving as fragments of that MTU fits the reassembly table's
 * fragments per datagram. */
static int check_mtu(uint16_t idx, const struct fo_port_config *pc, uint16_t pid, struct fo_port *p)
{
	uint16_t mtu = RTE_ETHER_MTU;
	if (rte_eth_dev_get_mtu(pid, &mtu) != 0 || mtu < RTE_ETHER_MIN_MTU)
		mtu = RTE_ETHER_MTU;
	p->mtu = mtu;
	const struct fo_config *c = fo_dp.cfg;
	uint32_t per_frag = (uint32_t)(mtu - L2L4_IP_HLEN) & ~7u;
	uint32_t most = per_frag * FO_REASM_FRAGS_PER_FLOW - L2L4_UDP_HLEN;
	if (c->reasm_max_flows && c->max_message_bytes > most) {
		fprintf(stderr,
			"ports[%u] (%s): limits.max_message_bytes %u arrives in more than %u IPv4 fragments at MTU "
			"%u, more than DPDK reassembles (RTE_LIBRTE_IP_FRAG_MAX_FRAG); lower it to %u or raise the "
			"MTU\n",
			idx, pc->device, c->max_message_bytes, FO_REASM_FRAGS_PER_FLOW, mtu, most);
		return -1;
	}
	return 0;
}

static int setup_port(uint16_t idx, const struct fo_port_config *pc)
{
	struct fo_port *p = &fo_dp.ports[idx];
	uint16_t pid;
	if (rte_eth_dev_get_port_by_name(pc->device, &pid) != 0) {
		fprintf(stderr, "ports[%u].device: no ethdev named '%s'\n", idx, pc->device);
		list_ethdevs();
		return -1;
	}
	struct rte_eth_dev_info di;
	int rc = rte_eth_dev_info_get(pid, &di);
	if (rc != 0) {
		fprintf(stderr, "ports[%u] (%s): cannot read device info: %s\n", idx, pc->device, rte_strerror(-rc));
		return -1;
	}
	p->port_id = pid;
	snprintf(p->name, sizeof(p->name), "%s", pc->device);
	p->n_rxq = pc->rx_queues;
	p->n_txq = (uint16_t)fo_dp.n_tx;
	if (p->n_rxq > di.max_rx_queues) {
		fprintf(stderr, "ports[%u] (%s): rx_queues %u > device max %u; lower `rx_queues`\n", idx, pc->device,
			p->n_rxq, di.max_rx_queues);
		return -1;
	}
	if (p->n_txq > di.max_tx_queues) {
		fprintf(stderr,
			"ports[%u] (%s): %u tx lcores need %u tx queues > device max %u; give fewer lcores the tx "
			"role\n",
			idx, pc->device, fo_dp.n_tx, p->n_txq, di.max_tx_queues);
		return -1;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = pc->mtu; /* 0: the ethdev default, RTE_ETHER_MTU */
	if (p->n_rxq > 1) {
		uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & di.flow_type_rss_offloads;
		if (!hf) {
			fprintf(stderr,
				"ports[%u] (%s): rx_queues %u needs RSS, which this device does not offer; set "
				"rx_queues: 1\n",
				idx, pc->device, p->n_rxq);
			return -1;
		}
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = hf;
	}
	uint64_t rx_ck = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	if ((di.rx_offload_capa & rx_ck) == rx_ck) {
		conf.rxmode.offloads |= rx_ck;
		p->rx_ip_ck = p->rx_l4_ck = true;
	}
	if (di.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		fo_port_multi_seg[idx] = true;
	}
	rc = rte_eth_dev_configure(pid, p->n_rxq, p->n_txq, &conf);
	if (rc != 0) {
		fprintf(stderr, "ports[%u] (%s): configure failed: %s\n", idx, pc->device, rte_strerror(-rc));
		if (pc->mtu)
			fprintf(stderr, "ports[%u] (%s): ports[%u].mtu is %u; the device takes an MTU of %u..%u\n", idx,
				pc->device, idx, pc->mtu, di.min_mtu, di.max_mtu);
		return -1;
	}
	uint16_t nrx = pc->rx_desc, ntx = pc->tx_desc;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	int sock = rte_eth_dev_socket_id(pid);
	if (sock < 0)
		sock = (int)rte_socket_id();
	for (uint16_t q = 0; q < p->n_rxq; q++) {
		struct rte_eth_rxconf rxc = di.default_rxconf;
		rxc.offloads = conf.rxmode.offloads;
		rc = rte_eth_rx_queue_setup(pid, q, nrx, (unsigned)sock, &rxc, fo_dp.pkt_pool);
		if (rc != 0) {
			fprintf(stderr, "ports[%u] (%s): rx queue %u setup failed: %s\n", idx, pc->device, q,
				rte_strerror(-rc));
			return -1;
		}
	}
	for (uint16_t q = 0; q < p->n_txq; q++) {
		struct rte_eth_txconf txc = di.default_txconf;
		txc.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup(pid, q, ntx, (unsigned)sock, &txc);
		if (rc != 0) {
			fprintf(stderr, "ports[%u] (%s): tx queue %u setup failed: %s\n", idx, pc->device, q,
				rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		fprintf(stderr, "ports[%u] (%s): start failed: %s\n", idx, pc->device, rte_strerror(-rc));
		return -1;
	}
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(pid, &mac);
	memcpy(p->ifc.mac, mac.addr_bytes, 6);
	p->ifc.ip = pc->ip;
	p->ifc.netmask = pc->prefix_len ? (uint32_t)(0xffffffffull << (32 - pc->prefix_len)) : 0;
	p->ifc.vlan = pc->vlan;
	p->ifc.mqttsn_port = pc->mqttsn_port;
	p->ifc.min_src_port = fo_dp.cfg->min_source_port;
	p->ifc.max_msg_len = (uint16_t)fo_dp.cfg->max_message_bytes;
	p->ifc.reassemble = fo_dp.cfg->reasm_max_flows > 0;
	/* Gateway discovery on a multicast group: SEARCHGWs sent to it are ours too (6.1). */
	uint32_t grp = fo_dp.cfg->discovery.dest_ip;
	if ((grp >> 28) == 0xe) {
		p->ifc.group = grp;
		p->ifc.group_port = fo_dp.cfg->discovery.dest_port;
	}
	p->gateway = pc->gateway;
	p->ifc.has_ip6 = pc->has_ip6;
	if (pc->has_ip6) {
		memcpy(p->ifc.ip6, pc->ip6, 16);
		p->ifc.ip6_prefix = pc->ip6_prefix;
		l2l4_ip6_link_local(p->ifc.mac, p->ifc.ll6);
		p->has_gateway6 = pc->has_gateway6;
		memcpy(p->gateway6, pc->gateway6, 16);
		/* and on IPv6, discovery.destination6 (6.1 over UDP/IPv6) */
		p->ifc.has_group6 = fo_dp.cfg->discovery.has_dest6;
		memcpy(p->ifc.group6, fo_dp.cfg->discovery.dest6, 16);
		p->ifc.group6_port = fo_dp.cfg->discovery.dest6_port;
	}
	if (check_mtu(idx, pc, pid, p) != 0)
		return -1;
	join_groups(idx, pid, &p->ifc);
	struct fo_neigh_conf nc = {
		.capacity = fo_dp.cfg->neighbours,
		.seed = { neigh_seed[0], neigh_seed[1] },
		.max_age_ms = fo_dp.cfg->arp_max_age_s * 1000,
		.pending_ms = FO_ARP_TRIES * FO_ARP_RETRY_MS,
		.requests_per_s = fo_dp.cfg->arp_requests_per_s,
	};
	if (take_xdp(idx, pc, p, &di))
		return -1;
	p->neigh = fo_neigh_create(&nc);
	if (!p->neigh) {
		fprintf(stderr, "ports[%u]: cannot allocate the neighbour table (%u entries)\n", idx,
			fo_dp.cfg->neighbours);
		return -1;
	}
	if (pc->has_ip6) {
		nc.ipv6 = true;
		p->neigh6 = fo_neigh_create(&nc);
		if (!p->neigh6) {
			fprintf(stderr, "ports[%u]: cannot allocate the IPv6 neighbour table (%u entries)\n", idx,
				fo_dp.cfg->neighbours);
			return -1;
		}
		char a6[INET6_ADDRSTRLEN], l6[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, p->ifc.ip6, a6, sizeof(a6));
		inet_ntop(AF_INET6, p->ifc.ll6, l6, sizeof(l6));
		printf("port %u: ipv6 %s/%u link-local %s\n", idx, a6, p->ifc.ip6_prefix, l6);
	}
	for (uint32_t j = 0; j < pc->n_static_neigh; j++) {
		const struct fo_static_neigh *sn = &pc->static_neigh[j];
		if (fo_neigh_add_static(p->neigh, sn->ip, sn->mac) != FO_NEIGH_CREATED) {
			fprintf(stderr,
				"ports[%u].static_neighbours[%u]: no room for %u.%u.%u.%u in the neighbour table "
				"(its probe window is all static entries); raise `neighbours`\n",
				idx, j, sn->ip >> 24, (sn->ip >> 16) & 255, (sn->ip >> 8) & 255, sn->ip & 255);
			return -1;
		}
	}
	fo_dp.port_index[pid] = idx;
	printf("port %u: %s (ethdev %u) mac %02x:%02x:%02x:%02x:%02x:%02x ipv4 %u.%u.%u.%u/%u vlan %u mqttsn udp/%u "
	       "rxq %u txq %u mtu %u%s%s\n",
	       idx, pc->device, pid, mac.addr_bytes[0], mac.addr_bytes[1], mac.addr_bytes[2], mac.addr_bytes[3],
	       mac.addr_bytes[4], mac.addr_bytes[5], pc->ip >> 24, (pc->ip >> 16) & 255, (pc->ip >> 8) & 255,
	       pc->ip & 255, pc->prefix_len, pc->vlan, pc->mqttsn_port, p->n_rxq, p->n_txq, p->mtu,
	       p->rx_l4_ck ? " rx-cksum-offload" : "", fo_port_multi_seg[idx] ? " multi-seg" : " single-seg");
	return 0;
}

/* Roles -> runtime objects: workers, tx lcores, rx queue assignment, reply paths. */
static int setup_lcores(void)
{
	const struct fo_config *c = fo_dp.cfg;
	unsigned main_lcore = rte_get_main_lcore();
	for (uint32_t i = 0; i < c->n_lcores; i++) {
		unsigned l = c->lcores[i].lcore;
		if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l) || l == main_lcore) {
			fprintf(stderr,
				"lcores[%u].lcore: %u is %s; give EAL e.g. -l %u,%u (main lcore first) or --lcores\n",
				i, l,
				l == main_lcore ? "the main lcore, which serves control and stats"
						: "not enabled in EAL",
				main_lcore, l);
			return -1;
		}
		struct fo_lcore *lc = &fo_dp.lcores[l];
		lc->lcore_id = l;
		lc->roles = c->lcores[i].roles;
		fo_dp.lcore_of[l] = lc;
		if (lc->roles & FO_ROLE_WORKER) {
			if (fo_dp.n_workers == FO_MAX_WORKERS) {
				fprintf(stderr, "lcores: more than %d workers\n", FO_MAX_WORKERS);
				return -1;
			}
			struct fo_worker *w = &fo_dp.workers[fo_dp.n_workers];
			w->idx = fo_dp.n_workers++;
			w->lcore_id = l;
			lc->worker = w;
		}
		if (lc->roles & FO_ROLE_TX) {
			if (fo_dp.n_tx == FO_MAX_TX) {
				fprintf(stderr, "lcores: more than %d tx lcores\n", FO_MAX_TX);
				return -1;
			}
			struct fo_txer *t = &fo_dp.txers[fo_dp.n_tx];
			t->idx = fo_dp.n_tx++;
			t->lcore_id = l;
			lc->txer = t;
		}
		fo_dp.n_lcores++;
	}
	if (!fo_dp.n_workers || !fo_dp.n_tx) {
		fprintf(stderr, "lcores: need at least one 'worker' and one 'tx' role\n");
		return -1;
	}
	for (uint32_t t = 0; t < fo_dp.n_tx; t++)
		if (!(fo_dp.txers[t].ring = make_ring("fo_tx%u", t, c->tx_ring_size)))
			return -1;
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		struct fo_worker *wk = &fo_dp.workers[w];
		if (!(wk->in = make_ring("fo_wk%u", w, c->worker_ring_size)) ||
		    !(wk->peer_in = make_ring("fo_peer%u", w, c->peer_ring_size)))
			return -1;
		if (fo_dp.n_workers > 1) {
			/* Session hand-overs: the ring holds every element of the pool, so a reply
			 * always finds room. */
			wk->ho_in = make_ring("fo_ho%u", w, rte_align32pow2(fo_ho_pool_size() + 1));
			wk->presence = rte_zmalloc_socket("fo_presence", FO_PRESENCE_SLOTS * sizeof(uint32_t),
							  RTE_CACHE_LINE_SIZE, (int)rte_socket_id());
			if (!wk->ho_in || !wk->presence) {
				fprintf(stderr, "worker %u: no room for the session hand-over ring and counters\n", w);
				return -1;
			}
		}
		struct fo_lcore *lc = fo_dp.lcore_of[wk->lcore_id];
		/* A worker sends through its own lcore's tx ring when it has one, else spreads. */
		wk->tx = lc->txer ? lc->txer->ring : fo_dp.txers[w % fo_dp.n_tx].ring;
	}
	unsigned k = 0, n_rx = 0;
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
		if (fo_dp.lcore_of[l] && (fo_dp.lcore_of[l]->roles & FO_ROLE_RX))
			n_rx++;
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++) {
		struct fo_lcore *lc = fo_dp.lcore_of[l];
		if (!lc)
			continue;
		/* One rx lcore that is also the only worker: nobody else feeds the worker ring, so
		 * its bursts go straight to the engine (run to completion, no ring hop). */
		lc->direct_worker = n_rx == 1 && fo_dp.n_workers == 1 && (lc->roles & FO_ROLE_RX) && lc->worker;
		lc->reply_tx = lc->txer ? lc->txer->ring : fo_dp.txers[k++ % fo_dp.n_tx].ring;
	}
	return 0;
}

static int assign_rx_queues(void)
{
	unsigned rx_lcores[RTE_MAX_LCORE], n_rx = 0;
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
		if (fo_dp.lcore_of[l] && (fo_dp.lcore_of[l]->roles & FO_ROLE_RX))
			rx_lcores[n_rx++] = l;
	if (!n_rx) {
		fprintf(stderr, "lcores: no lcore has role 'rx'\n");
		return -1;
	}
	unsigned k = 0;
	for (uint16_t p = 0; p < fo_dp.n_ports; p++)
		for (uint16_t q = 0; q < fo_dp.ports[p].n_rxq; q++) {
			struct fo_lcore *lc = fo_dp.lcore_of[rx_lcores[k++ % n_rx]];
			if (lc->n_rxq == FO_MAX_RXQ_PER_LCORE) {
				fprintf(stderr, "lcores: more than %d rx queues on lcore %u\n", FO_MAX_RXQ_PER_LCORE,
					lc->lcore_id);
				return -1;
			}
			lc->rxq[lc->n_rxq].port = fo_dp.ports[p].port_id;
			lc->rxq[lc->n_rxq].queue = q;
			lc->n_rxq++;
		}
	return 0;
}

static int setup_pools(void)
{
	const struct fo_config *c = fo_dp.cfg;
	int sock = (int)rte_socket_id();
	/* Receive buffers hold a whole frame of the ports' MTU (config.c checks ports[].mtu against
	 * mempool.rx_buffer_bytes): a frame in two segments is dropped. */
	fo_dp.pkt_pool = rte_pktmbuf_pool_create("fo_pkt", c->mbufs, c->mbuf_cache, 0,
						 (uint16_t)(RTE_PKTMBUF_HEADROOM + c->rx_buffer_bytes), sock);
	/* Header mbufs carry Ethernet/IPv4/UDP plus an MQTT-SN control message (REGISTER holds
	 * a topic name), so their room follows max_topic_len. */
	uint32_t room = RTE_PKTMBUF_HEADROOM + 64 + 16 + c->broker.max_topic_len;
	if (room < RTE_PKTMBUF_HEADROOM + 256)
		room = RTE_PKTMBUF_HEADROOM + 256;
	if (room > UINT16_MAX)
		room = UINT16_MAX;
	fo_dp.hdr_pool = rte_pktmbuf_pool_create("fo_hdr", c->hdr_mbufs, c->mbuf_cache, 0, (uint16_t)room, sock);
	fo_dp.hdr_room = room - RTE_PKTMBUF_HEADROOM;
	/* peer descriptors carry publishes between workers and, from bridges, messages from upstream */
	uint32_t n_peer = fo_dp.n_workers > 1 || c->n_bridges ? c->peer_ring_size * fo_dp.n_workers : 64;
	/* A mempool cache may hold at most 2/3 of the pool (EINVAL otherwise). */
	unsigned peer_cache = n_peer >= 512 ? 64 : 0;
	fo_dp.peer_pool = rte_mempool_create("fo_peer", n_peer, sizeof(struct fo_peer_msg) + c->broker.max_topic_len,
					     peer_cache, 0, NULL, NULL, NULL, NULL, sock, 0);
	if (fo_dp.n_workers > 1) {
		fo_dp.ho_pool = rte_mempool_create("fo_ho", fo_ho_pool_size(),
						   sizeof(struct fo_ho_msg) + FO_HO_STATE_MAX, 0, 0, NULL, NULL, NULL,
						   NULL, sock, 0);
		if (!fo_dp.ho_pool) {
			fprintf(stderr,
				"mempool: cannot create %u session hand-over buffers of %u KiB: %s; add hugepages\n",
				fo_ho_pool_size(), FO_HO_STATE_MAX / 1024, rte_strerror(rte_errno));
			return -1;
		}
	}
	fo_dp.held_pool = rte_pktmbuf_pool_create("fo_held", c->held_mbufs,
						  c->mbuf_cache < c->held_mbufs / 2 ? c->mbuf_cache : 0, 0,
						  RTE_MBUF_DEFAULT_BUF_SIZE, sock);
	if (c->reasm_max_flows) {
		/* A reassembled datagram with its Ethernet, VLAN, IPv4 (options too) and UDP headers,
		 * without headroom (rx_reasm.c): nothing is ever prepended to it. */
		uint32_t big = L2L4_ETH_HLEN + L2L4_VLAN_HLEN + 60 + L2L4_UDP_HLEN + c->max_message_bytes;
		fo_dp.large_pool = rte_pktmbuf_pool_create("fo_large", c->large_mbufs,
							   c->mbuf_cache < c->large_mbufs / 2 ? c->mbuf_cache : 0, 0,
							   (uint16_t)RTE_MIN(big, (uint32_t)UINT16_MAX), sock);
		if (!fo_dp.large_pool) {
			fprintf(stderr,
				"mempool: cannot create %u large mbufs of %u bytes: %s; lower mempool.large_mbufs or "
				"limits.max_message_bytes, or reserve more hugepages\n",
				c->large_mbufs, big, rte_strerror(rte_errno));
			return -1;
		}
	}
	/* IPv4 fragments of generated frames over the MTU: a header mbuf (hdr_pool) and references
	 * to the frame's segments, as many as header mbufs at most. */
	fo_dp.indirect_pool = rte_pktmbuf_pool_create("fo_indirect", c->hdr_mbufs,
						      c->mbuf_cache < c->hdr_mbufs / 2 ? c->mbuf_cache : 0, 0, 0, sock);
	if (!fo_dp.pkt_pool || !fo_dp.hdr_pool || !fo_dp.peer_pool || !fo_dp.held_pool || !fo_dp.indirect_pool) {
		fprintf(stderr,
			"mempool: cannot create pools (mbufs %u, header_mbufs %u, held_mbufs %u): %s; lower "
			"mempool.* or reserve more hugepages (deploy/hugepages.sh), or run with --no-huge -m MB\n",
			c->mbufs, c->hdr_mbufs, c->held_mbufs, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* Count whatever is still in a ring after the pipeline stopped as a shutdown drop
 * (rx side for worker rings, output side for tx rings). */
static void drain_ring(struct rte_ring *r, bool output, bool peer)
{
	void *objs[64];
	unsigned n;
	struct fo_counters *c = &fo_stats[rte_get_main_lcore()].c;
	while ((n = rte_ring_dequeue_burst(r, objs, 64, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			if (peer) {
				struct fo_peer_msg *pm = objs[i];
				rte_pktmbuf_free(pm->payload);
				rte_mempool_put(fo_dp.peer_pool, pm);
				continue;
			}
			if (output)
				fo_count_out_drop(c, FO_OUT_DROP_SHUTDOWN);
			else
				fo_count_drop(c, FO_DROP_SHUTDOWN);
			rte_pktmbuf_free(objs[i]);
		}
	}
}

static void drain_acks(void)
{
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		struct fo_out_msg *m;
		while (fo_dp.workers[w].ack_in && rte_ring_sc_dequeue(fo_dp.workers[w].ack_in, (void **)&m) == 0) {
			rte_pktmbuf_free(m->payload);
			rte_mempool_put(fo_dp.out_pool, m);
		}
	}
}

static void wait_phase(int phase)
{
	atomic_store_explicit(&fo_dp.phase, phase, memory_order_release);
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++) {
		struct fo_lcore *lc = fo_dp.lcore_of[l];
		if (!lc)
			continue;
		while (atomic_load_explicit(&lc->seen_phase, memory_order_acquire) < phase)
			rte_pause();
	}
}

static bool rings_empty(bool workers, bool tx)
{
	for (uint32_t w = 0; workers && w < fo_dp.n_workers; w++)
		if (rte_ring_count(fo_dp.workers[w].in) || rte_ring_count(fo_dp.workers[w].peer_in))
			return false;
	for (uint32_t t = 0; tx && t < fo_dp.n_tx; t++)
		if (rte_ring_count(fo_dp.txers[t].ring))
			return false;
	return true;
}

/* Wait (bounded) for rings to empty while their consumers still run. */
static void wait_drained(bool workers, bool tx)
{
	uint64_t deadline = rte_get_tsc_cycles() + fo_dp.tsc_hz; /* 1 s */
	while (!rings_empty(workers, tx) && rte_get_tsc_cycles() < deadline)
		rte_delay_us_sleep(1000);
}

static void shutdown_pipeline(void)
{
	wait_phase(FO_STOP_RX);
	wait_drained(true, false);
	wait_phase(FO_STOP_WORKERS);
	wait_drained(false, true);
	wait_phase(FO_DONE);
	rte_eal_mp_wait_lcore();
	for (uint32_t w = 0; w < fo_dp.n_workers; w++) {
		drain_ring(fo_dp.workers[w].in, false, false);
		drain_ring(fo_dp.workers[w].peer_in, false, true);
	}
	for (uint32_t t = 0; t < fo_dp.n_tx; t++)
		drain_ring(fo_dp.txers[t].ring, true, false);
	/* Sinks and bridges get no more entries: they write what they can within their timeout and
	 * count the rest as discarded. Written-mode entries come back to the stopped workers'
	 * ack rings: their PUBACKs cannot go out any more. */
	fo_outputs_stop();
	drain_acks();
	/* The engines stay alive for the final snapshot (sessions, inflight); main() destroys
	 * them afterwards, which releases payloads still held for QoS 1 retransmission. */
}

static void print_summary(void)
{
	struct fo_counters t;
	fo_stats_sum(&t);
	uint64_t rx = t.rx, del = t.delivered, ans = t.answered, mrg = t.frag_merged, drop = t.dropped;
	uint64_t gen = t.out_generated, sent = t.out_sent, odrop = t.out_dropped;
	fprintf(stderr,
		"fanout-dataplane: rx %lu pkts = delivered %lu + answered %lu + frag_merged %lu + dropped %lu (%s); "
		"out generated %lu = sent %lu + dropped %lu (%s)\n",
		rx, del, ans, mrg, drop, rx == fo_counters_finished(&t) ? "balanced" : "UNBALANCED", gen, sent, odrop,
		gen == sent + odrop ? "balanced" : "UNBALANCED");
}

int main(int argc, char **argv)
{
	int sep = 0;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	if (!sep) {
		usage(argv[0]);
		return 2;
	}
	struct app_args a = { 0 };
	char *app_argv[64];
	int app_argc = 0;
	app_argv[app_argc++] = argv[0];
	for (int i = sep + 1; i < argc && app_argc < 63; i++)
		app_argv[app_argc++] = argv[i];
	app_argv[app_argc] = NULL;
	if (parse_app_args(app_argc, app_argv, &a) != 0) {
		usage(argv[0]);
		return 2;
	}
	char err[512];
	if (fo_config_load(a.config, &fo_dp.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", a.config, err);
		return 1;
	}
	fo_dp.burst = fo_dp.cfg->burst;
	if (bh_seed_init() != 0) {
		fprintf(stderr, "fanout-dataplane: getrandom() gave no seed for the table hashes; is the kernel's "
				"entropy pool initialised?\n");
		return 1;
	}

	int eal_argc = sep;
	int rc = rte_eal_init(eal_argc, argv);
	if (rc < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	fo_dp.tsc_hz = rte_get_tsc_hz();
	fo_dp.start_tsc = rte_get_tsc_cycles();

	int status = 1;
	if (neigh_seed_init() != 0 || setup_lcores() != 0 || setup_pools() != 0)
		goto out;
	if (fo_dp.cfg->n_ports > FO_MAX_PORTS) {
		fprintf(stderr, "ports: %u configured, at most %d supported\n", fo_dp.cfg->n_ports, FO_MAX_PORTS);
		goto out;
	}
	for (uint16_t i = 0; i < fo_dp.cfg->n_ports; i++) {
		if (setup_port(i, &fo_dp.cfg->ports[i]) != 0)
			goto out;
		fo_dp.n_ports++;
	}
	if (assign_rx_queues() != 0)
		goto out;
	if (register_meta() != 0)
		goto out;
	if (fo_gen_init(a.config, fo_dp.n_workers, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (fo_telemetry_register() != 0)
		goto out;
	if (fo_outputs_init(fo_dp.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	for (uint32_t w = 0; w < fo_dp.n_workers; w++)
		if (fo_worker_init(&fo_dp.workers[w]) != 0)
			goto out;
	for (unsigned l = 0; l < RTE_MAX_LCORE; l++)
		if (fo_dp.lcore_of[l] && (fo_dp.lcore_of[l]->roles & FO_ROLE_RX) &&
		    fo_reasm_init(fo_dp.lcore_of[l]) != 0)
			goto out;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* A sink or bridge writing to a connection its server closed gets EPIPE, not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);

	/* Open before the lcores start, so "ready" means the socket answers too. */
	if (a.control && fo_ctl_open(a.control, a.control_mode, a.control_group) != 0)
		goto out;
	if (a.control)
		printf("control socket: %s (redis-cli -s %s INFO)\n", a.control, a.control);

	for (unsigned l = 0; l < RTE_MAX_LCORE; l++) {
		struct fo_lcore *lc = fo_dp.lcore_of[l];
		if (!lc)
			continue;
		printf("lcore %u:%s%s%s rxq %u\n", l, (lc->roles & FO_ROLE_RX) ? " rx" : "",
		       (lc->roles & FO_ROLE_WORKER) ? " worker" : "", (lc->roles & FO_ROLE_TX) ? " tx" : "", lc->n_rxq);
		rte_eal_remote_launch(fo_lcore_main, lc, l);
	}
	printf("fanout-dataplane: ready (%u workers, %u tx lcores, burst %u)\n", fo_dp.n_workers, fo_dp.n_tx,
	       fo_dp.burst);
	fflush(stdout);

	const char *stats_path = a.stats ? a.stats : fo_dp.cfg->stats_file;
	uint64_t last_age_ms = 0;
	uint64_t stop_at = a.duration > 0 ? rte_get_tsc_cycles() + (uint64_t)(a.duration * (double)fo_dp.tsc_hz) : 0;
	while (!quit_signal) {
		if (dump_signal) {
			dump_signal = 0;
			fo_stats_write_json(stats_path, "SIGUSR1");
		}
		if (stop_at && rte_get_tsc_cycles() >= stop_at)
			break;
		fo_ctl_poll(10); /* serves the control socket, or sleeps 10 ms */
		fo_gen_poll();   /* frees generation sets no worker can still see */
		uint64_t now_ms = fo_now_ms();
		fo_advertise_poll(now_ms); /* discovery: ADVERTISE when due */
		if (now_ms - last_age_ms >= FO_NEIGH_AGE_MS) {
			last_age_ms = now_ms;
			age_neighbours(now_ms);
		}
	}
	shutdown_pipeline();
	fo_stats_write_json(stats_path, "exit");
	print_summary();
	status = 0;
out:
	fo_ctl_close();
	if (status != 0) {
		atomic_store(&fo_dp.phase, FO_DONE);
		rte_eal_mp_wait_lcore();
	}
	for (uint16_t i = 0; i < fo_dp.n_ports; i++) {
		struct fo_port *p = &fo_dp.ports[i];
		if (p->xdp_on)
			fo_xdp_release(&p->xdp); /* the pins go; the PMD detaches the program on close */
		rte_eth_dev_stop(p->port_id);
		rte_eth_dev_close(p->port_id);
		if (p->xdp_on && fo_xdp_detach(p->if_index, p->xdp.prog_id))
			printf("ports[%u]: XDP pre-filter %u was still attached after close; detached\n", i,
			       p->xdp.prog_id);
		p->xdp_on = false;
		fo_neigh_destroy(p->neigh);
		fo_neigh_destroy(p->neigh6);
	}
	fo_outputs_stop(); /* when setup failed after they started */
	drain_acks();
	for (uint32_t w = 0; w < fo_dp.n_workers; w++)
		fo_worker_fini(&fo_dp.workers[w]);
	fo_gen_fini();
	fo_config_free(fo_dp.cfg);
	rte_eal_cleanup();
	return status;
}
