/* The periodic ADVERTISE on the main lcore: every discovery.interval_s, one frame per port the
 * destination leaves by (route/discovery.h), and with discovery.destination6 one more per port with
 * IPv6 to that group, queued on a tx ring like any generated frame (the rings take several
 * producers). A broadcast or multicast destination needs no neighbour; a host is resolved through
 * the port's neighbour table, the advert retried while ARP answers. Counts advertise_sent and, like
 * every generated frame, out_generated on the main lcore's row. */
#include <rte_lcore.h>

#include "advertise.h"
#include "dataplane.h"
#include "discovery.h"
#include "out_frame.h"

static struct fo_disc_timer timers[FO_MAX_PORTS], timers6[FO_MAX_PORTS];

/* The ADVERTISE frame addressed per spec, out of port pidx by the tx ring. */
static void send_advert(uint16_t pidx, const struct l2l4_udp_spec *spec, struct rte_ring *tx, struct fo_lcore_stats *st)
{
	const struct fo_discovery_config *d = &fo_dp.cfg->discovery;
	struct fo_port *p = &fo_dp.ports[pidx];
	uint8_t msg[8];
	int len = fo_disc_advertise_msg(msg, sizeof(msg), fo_dp.cfg->broker.gateway_id, d->interval_s);
	struct rte_mbuf *m = rte_pktmbuf_alloc(fo_dp.hdr_pool);
	if (!m) {
		fo_out_fail(st, FO_OUT_DROP_HDR_POOL_EMPTY);
		return;
	}
	size_t n = len > 0 ? fo_disc_frame(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m), spec, d->ttl, msg,
					   (uint16_t)len)
			   : 0;
	if (n == 0) {
		rte_pktmbuf_free(m);
		fo_out_fail(st, FO_OUT_DROP_FRAME_TOO_BIG);
		return;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	m->port = p->port_id;
	st->c.ev[FO_EV_ADVERTISE_SENT]++;
	fo_out_enqueue(tx, &m, 1, st);
}

static void advertise_port(uint16_t pidx, uint64_t now_ms, struct fo_lcore_stats *st)
{
	const struct fo_discovery_config *d = &fo_dp.cfg->discovery;
	struct fo_port *p = &fo_dp.ports[pidx];
	struct rte_ring *tx = fo_dp.txers[pidx % fo_dp.n_tx].ring;
	struct l2l4_udp_spec spec;
	fo_frame_spec(&spec, &p->ifc, d->dest_ip, d->dest_port ? d->dest_port : p->ifc.mqttsn_port);
	if (!fo_disc_group_mac(d->dest_ip, p->ifc.ip, p->ifc.netmask, spec.dst_mac) &&
	    !fo_resolve(p, d->dest_ip, spec.dst_mac, tx, st)) {
		if (fo_disc_unresolved(&timers[pidx], now_ms, d->interval_s, FO_ARP_RETRY_MS, FO_ARP_TRIES))
			fo_out_fail(st, FO_OUT_DROP_NO_NEIGHBOUR);
		return;
	}
	fo_disc_sent(&timers[pidx], now_ms, d->interval_s);
	send_advert(pidx, &spec, tx, st);
}

/* To the IPv6 group and its port (the port's MQTT-SN port when port6 is not set), from the port's
 * global address. */
static void advertise_port6(uint16_t pidx, uint64_t now_ms, struct fo_lcore_stats *st)
{
	const struct fo_discovery_config *d = &fo_dp.cfg->discovery;
	struct fo_port *p = &fo_dp.ports[pidx];
	struct l2l4_udp_spec spec;
	fo_frame_spec(&spec, &p->ifc, 0, d->dest6_port ? d->dest6_port : p->ifc.mqttsn_port);
	spec.dst_ip6 = d->dest6;
	spec.src_ip6 = p->ifc.ip6;
	fo_disc_group6_mac(d->dest6, spec.dst_mac);
	fo_disc_sent(&timers6[pidx], now_ms, d->interval_s);
	send_advert(pidx, &spec, fo_dp.txers[pidx % fo_dp.n_tx].ring, st);
}

void fo_advertise_poll(uint64_t now_ms)
{
	const struct fo_discovery_config *d = &fo_dp.cfg->discovery;
	if (!d->advertise)
		return;
	struct fo_disc_port ports[FO_MAX_PORTS];
	for (uint16_t i = 0; i < fo_dp.n_ports; i++)
		ports[i] = (struct fo_disc_port){ .ip = fo_dp.ports[i].ifc.ip,
						  .netmask = fo_dp.ports[i].ifc.netmask,
						  .gateway = fo_dp.ports[i].gateway };
	struct fo_lcore_stats *st = &fo_stats[rte_get_main_lcore()];
	for (uint16_t i = 0; i < fo_dp.n_ports; i++)
		if (fo_disc_port_sends(d->dest_ip, ports, fo_dp.n_ports, i) && fo_disc_due(&timers[i], now_ms))
			advertise_port(i, now_ms, st);
	for (uint16_t i = 0; i < fo_dp.n_ports; i++)
		if (d->has_dest6 && fo_dp.ports[i].ifc.has_ip6 && fo_disc_due(&timers6[i], now_ms))
			advertise_port6(i, now_ms, st);
}
