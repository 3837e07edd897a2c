#!/usr/bin/env python3
"""Report of bench/tls_compare.sh: Markdown and two PNG plots from its CSV.

    tls_compare_report.py --csv RUN.csv --meta META.tsv --out BASE
        [--probes FILE] [--baton-notes FILE] [--failures FILE] [--plots-only]

Writes BASE.md, BASE-ratios.png (baton/HAProxy and baton/NGINX per metric, median with
min..max over the rounds) and BASE-sweep.png (wrk keep-alive req/s against connections).
CSV columns: round,lb,metric,value,unit,cpu_s,count,status,note.
"""
import argparse
import csv
import os
import statistics
import sys

LBS = ['baton', 'haproxy', 'nginx']
NAMES = {'baton': 'baton', 'haproxy': 'HAProxy', 'nginx': 'NGINX'}
PEERS = ['haproxy', 'nginx']

# key, label, better ('high' or 'low'), unit; cpu metrics are derived from a base metric.
METRICS = [
    ('ka_rps', 'TLS 1.3 keep-alive req/s (1 KiB)', 'high', 'req/s'),
    ('full_hs', 'full handshakes/s (X25519, ECDSA P-256)', 'high', 'hs/s'),
    ('resumed_hs', 'resumed handshakes/s (TLS 1.3 ticket)', 'high', 'hs/s'),
    ('bulk_mbps', 'bulk download MB/s (256 MiB)', 'high', 'MB/s'),
    ('lat_p50_ms', 'p50 latency at fixed rate (ms)', 'low', 'ms'),
    ('lat_p99_ms', 'p99 latency at fixed rate (ms)', 'low', 'ms'),
]
# derived: key, label, base metric, divisor from (count) -> per unit
CPU_METRICS = [
    ('cpu_per_1k_req', 'CPU s per 1,000 keep-alive requests', 'ka_rps', 1000.0, 's/1k req'),
    ('cpu_per_1k_full', 'CPU s per 1,000 full handshakes', 'full_hs', 1000.0, 's/1k hs'),
    ('cpu_per_1k_resumed', 'CPU s per 1,000 resumed handshakes', 'resumed_hs', 1000.0, 's/1k hs'),
    ('cpu_per_gb', 'CPU s per GB (bulk)', 'bulk_mbps', 1e9, 's/GB'),
]
GOOD = ('ok',)


def load(path):
    rows = list(csv.DictReader(open(path)))
    data = {}  # (metric, round, lb) -> row
    for r in rows:
        data[(r['metric'], int(r['round']), r['lb'])] = r
    return rows, data


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def value(data, metric, rnd, lb):
    """The metric's value when its measurement is usable, else None."""
    for m in CPU_METRICS:
        if m[0] == metric:
            r = data.get((m[2], rnd, lb))
            if not r or r['status'] not in GOOD:
                return None
            cpu, count = fnum(r['cpu_s']), fnum(r['count'])
            if cpu is None or not count:
                return None
            return cpu / (count / m[3])
    r = data.get((metric, rnd, lb))
    if not r or r['status'] not in GOOD:
        return None
    return fnum(r['value'])


def ratios(data, rounds, metric, peer):
    out = []
    for rnd in rounds:
        b, p = value(data, metric, rnd, 'baton'), value(data, metric, rnd, peer)
        if b is not None and p not in (None, 0.0):
            out.append(b / p)
    return out


def fmt(v, nd=2):
    if v is None:
        return '–'
    if abs(v) >= 1000:
        return '%.0f' % v
    if abs(v) >= 100:
        return '%.1f' % v
    if abs(v) >= 1:
        return '%.2f' % v
    return '%.3f' % v


def raw_cell(data, metric, rnd, lb):
    r = data.get((metric, rnd, lb))
    if not r:
        return '–'
    if r['status'] == 'no-resumption':
        return 'does not resume'
    if r['status'] not in GOOD:
        return '%s (%s)' % (r['status'], fmt(fnum(r['value'])))
    return fmt(fnum(r['value']))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--csv', required=True)
    ap.add_argument('--meta', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--probes')
    ap.add_argument('--baton-notes')
    ap.add_argument('--failures')
    ap.add_argument('--plots-only', action='store_true', help='redraw the PNGs from the CSV')
    a = ap.parse_args()

    meta = {}
    for line in open(a.meta):
        if '\t' in line:
            k, v = line.rstrip('\n').split('\t', 1)
            meta[k] = v
    rows, data = load(a.csv)
    rounds = sorted({int(r['round']) for r in rows})
    base = os.path.basename(a.out)

    def readf(p):
        return open(p).read() if p and os.path.exists(p) else ''

    if a.plots_only:
        all_metrics = [(k, l, b) for k, l, b, _ in METRICS] + [(k, l, 'low') for k, l, _, _, _ in CPU_METRICS]
        ratio_table = {(k, p): ratios(data, rounds, k, p) for k, _, _ in all_metrics for p in PEERS}
        sweep = sorted({int(r['metric'][len('sweep_rps_c'):]) for r in rows if r['metric'].startswith('sweep_rps_c')})
        plots(a.out, data, rounds, ratio_table, all_metrics, sweep, meta)
        return 0

    md = []
    w = md.append
    w('# TLS comparison: baton vs HAProxy vs NGINX, TLS 1.3 termination')
    w('')
    w('Run %s, %s round(s)%s, %s s; `bench/tls_compare.sh`.' % (
        meta.get('stamp', '?'), meta.get('rounds', '?'),
        ' (`--quick` smoke run: short durations, not for conclusions)' if meta.get('quick') == '1' else '',
        meta.get('elapsed_s', '?')))
    w('')
    w('| | |')
    w('|---|---|')
    w('| machine | %s, %s cores, %s GiB RAM |' % (meta.get('cpu', '?'), meta.get('cores', '?'), meta.get('mem_gib', '?')))
    w('| kernel | %s |' % meta.get('kernel', '?'))
    w('| load average (1, 5, 15 min) | %s: the machine is shared; clients, backends and the LB share its cores |' % meta.get('load', '?'))
    w('| DPDK | %s |' % meta.get('dpdk', '?'))
    w('| OpenSSL | %s |' % meta.get('openssl', '?'))
    w('| ipsec-mb | %s |' % meta.get('ipsec_mb', '?'))
    w('| HAProxy | %s |' % meta.get('haproxy', '?'))
    w('| nginx | %s |' % meta.get('nginx', '?'))
    w('| clients | %s, %s, openssl s_time (%s), curl |' % (meta.get('wrk', 'wrk'), meta.get('h2load', 'h2load'), meta.get('openssl', '?')))
    w('| baton commit | %s |' % meta.get('commit', '?'))
    w('| baton | %s |' % meta.get('baton', '?'))
    w('| HAProxy config | `mode http`, `nbthread %s`, `bind ... ssl crt site-ecdsa alpn http/1.1`, `ssl-min-ver TLSv1.3`, `http-reuse always`, roundrobin over 3 nginx, `source 198.18.3.11` |' % meta.get('workers', '1'))
    w('| NGINX config | `worker_processes %s`, `listen ... ssl`, site-ecdsa, `ssl_protocols TLSv1.3`, `proxy_pass` to an upstream of 3 nginx with `keepalive 64`, HTTP/1.1 to backends, `proxy_bind 198.18.3.11` |' % meta.get('workers', '1'))
    w('| durations | keep-alive %s s (wrk -t1 -c%s), handshakes %s s (%s × s_time), latency %s s (h2load -c%s at %s req/s), sweep %s s per point |' % (
        meta.get('d_ka'), meta.get('ka_conns'), meta.get('d_hs'), meta.get('hs_procs'), meta.get('d_lat'),
        meta.get('lat_conns'), meta.get('rate'), meta.get('d_sweep')))
    w('')
    w('baton terminates TLS and splices each client connection to its own backend connection')
    w('(no HTTP parsing, no connection reuse across clients); HAProxy and NGINX terminate TLS')
    w('and proxy HTTP/1.1 with keep-alive connections to the backends. The three run one at a')
    w('time on the same VIP in namespace bt-a, in an order that rotates every round. What each')
    w('metric means and how it is measured: `docs/BENCH.md`.')
    w('')

    w('## Ratios over the rounds')
    w('')
    w('baton / peer for each round in which both measurements succeeded; min / median / max.')
    w('Higher is better for baton on rates, lower is better on latency and CPU.')
    w('')
    w('| metric | better | baton/HAProxy min | median | max | baton/NGINX min | median | max |')
    w('|---|---|---:|---:|---:|---:|---:|---:|')
    all_metrics = [(k, l, b) for k, l, b, _ in METRICS] + [(k, l, 'low') for k, l, _, _, _ in CPU_METRICS]
    ratio_table = {}
    for key, label, better in all_metrics:
        cells = []
        for peer in PEERS:
            v = ratios(data, rounds, key, peer)
            ratio_table[(key, peer)] = v
            if v:
                cells += [fmt(min(v)), fmt(statistics.median(v)), fmt(max(v))]
            else:
                cells += ['–', '–', '–']
        w('| %s | %s | %s |' % (label, 'higher' if better == 'high' else 'lower', ' | '.join(cells)))
    w('')
    # resumption, said in words where it did not happen
    nores = []
    for lb in LBS:
        bad = [r for r in rows if r['lb'] == lb and r['metric'] == 'resumed_hs' and r['status'] == 'no-resumption']
        if bad:
            nores.append('%s did not resume in %d of %d rounds (%s)' % (
                NAMES[lb], len(bad), len(rounds), bad[0]['note']))
    if nores:
        w('Resumption: ' + '; '.join(nores) + '. Its resumed-handshake ratio is left out ("–").')
        w('')

    w('## Raw numbers')
    w('')
    w('| metric | round | baton | HAProxy | NGINX |')
    w('|---|---:|---:|---:|---:|')
    for key, label, _, unit in METRICS:
        for rnd in rounds:
            w('| %s (%s) | %d | %s |' % (label, unit, rnd, ' | '.join(raw_cell(data, key, rnd, lb) for lb in LBS)))
    for key, label, _, _, unit in CPU_METRICS:
        for rnd in rounds:
            w('| %s (%s) | %d | %s |' % (label, unit, rnd, ' | '.join(fmt(value(data, key, rnd, lb)) for lb in LBS)))
    w('')

    sweep = sorted({int(r['metric'][len('sweep_rps_c'):]) for r in rows if r['metric'].startswith('sweep_rps_c')})
    if sweep:
        w('## Keep-alive req/s against connections (round 1, wrk -t1, GET /files/1k.bin)')
        w('')
        w('| connections | baton | HAProxy | NGINX | baton/HAProxy | baton/NGINX |')
        w('|---:|---:|---:|---:|---:|---:|')
        for c in sweep:
            m = 'sweep_rps_c%d' % c
            vals = [value(data, m, rounds[0], lb) for lb in LBS]
            rat = [fmt(vals[0] / vals[i]) if vals[0] is not None and vals[i] else '–' for i in (1, 2)]
            w('| %d | %s | %s |' % (c, ' | '.join(raw_cell(data, m, rounds[0], lb) for lb in LBS), ' | '.join(rat)))
        w('')

    probes = readf(a.probes)
    if probes:
        w('## What the handshakes negotiated (openssl s_client, default client offer, round 1)')
        w('')
        w('| LB | SNI | protocol | suite | group | server signature | chain |')
        w('|---|---|---|---|---|---|---|')
        md.extend(probes.rstrip('\n').split('\n'))
        w('')
    notes = readf(a.baton_notes)
    if notes:
        w('## baton counters per round (its stats file after the round)')
        w('')
        w('| round | TLS handshakes | of which resumed | handshake failures | session failures | port imissed | drops (non-zero) |')
        w('|---:|---:|---:|---:|---:|---:|---|')
        md.extend(notes.rstrip('\n').split('\n'))
        w('')

    w('## Plots')
    w('')
    w('![ratios](%s-ratios.png)' % base)
    w('')
    w('![sweep](%s-sweep.png)' % base)
    w('')
    failures = readf(a.failures)
    w('## Failures and errors')
    w('')
    w(failures.rstrip('\n') if failures.strip() else 'None: every measurement of every load balancer completed.')
    w('')
    w('## Notes per measurement')
    w('')
    w('| round | LB | metric | status | CPU s | note |')
    w('|---:|---|---|---|---:|---|')
    for r in rows:
        if r['metric'].startswith('sweep_'):
            continue
        w('| %s | %s | %s | %s | %s | %s |' % (r['round'], NAMES.get(r['lb'], r['lb']), r['metric'], r['status'],
                                           r['cpu_s'], r['note'].replace('|', '/')))
    open(a.out + '.md', 'w').write('\n'.join(md) + '\n')

    plots(a.out, data, rounds, ratio_table, all_metrics, sweep, meta)
    return 0


def plots(out, data, rounds, ratio_table, all_metrics, sweep, meta):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    # Ratios: one row per metric, two bars (vs HAProxy, vs NGINX), median with min..max.
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(all_metrics) + 1.6))
    labels = [l + (' ↑' if b == 'high' else ' ↓') for _, l, b in all_metrics]
    ys = list(range(len(all_metrics)))
    for j, (peer, color) in enumerate((('haproxy', '#d62728'), ('nginx', '#2ca02c'))):
        med, lo, hi, yy = [], [], [], []
        for i, (key, _, _) in enumerate(all_metrics):
            v = ratio_table.get((key, peer)) or []
            if not v:
                continue
            m = statistics.median(v)
            med.append(m)
            lo.append(m - min(v))
            hi.append(max(v) - m)
            yy.append(i + (j - 0.5) * 0.36)
        # bars grow from 1 (parity) towards the median ratio
        ax.barh(yy, [m - 1.0 for m in med], left=1.0, height=0.34, color=color, alpha=0.8,
                label='baton / ' + NAMES[peer])
        ax.errorbar(med, yy, xerr=[lo, hi], fmt='none', ecolor='black', capsize=3, linewidth=1)
    ax.axvline(1.0, color='black', linewidth=1)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale('log')
    from matplotlib.ticker import FixedLocator, NullLocator, FormatStrFormatter
    seen = [x for v in ratio_table.values() for x in v]
    lo_x, hi_x = min(seen + [0.8]), max(seen + [1.25])
    cand = ((0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0) if hi_x / lo_x > 6 else
            (0.25, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0))
    ticks = [t for t in cand if lo_x / 1.3 <= t <= hi_x * 1.3]
    ax.set_xlim(lo_x / 1.15, hi_x * 1.15)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FormatStrFormatter('%g'))
    ax.grid(True, axis='x', alpha=0.3)
    ax.set_xlabel('ratio baton / peer (median, bars: min..max over %d round(s)); ↑ higher is better for baton, ↓ lower' % len(rounds),
                  fontsize=8)
    ax.set_title('TLS 1.3 termination, commit %s' % meta.get('commit', '?').split()[0], fontsize=10)
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(out + '-ratios.png', dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for lb, color in (('baton', '#1f77b4'), ('haproxy', '#d62728'), ('nginx', '#2ca02c')):
        xs, vs = [], []
        for c in sweep:
            v = value(data, 'sweep_rps_c%d' % c, rounds[0] if rounds else 1, lb)
            if v is not None:
                xs.append(c)
                vs.append(v)
        if xs:
            ax.plot(xs, vs, marker='o', color=color, label=NAMES[lb])
    ax.set_xscale('log', base=2)
    ax.set_xticks(sweep or [1])
    ax.set_xticklabels([str(c) for c in (sweep or [1])])
    ax.set_xlabel('keep-alive connections (wrk -t1)')
    ax.set_ylabel('requests/s (GET 1 KiB over TLS 1.3)')
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title('Throughput vs connections, commit %s' % meta.get('commit', '?').split()[0], fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out + '-sweep.png', dpi=110)
    plt.close(fig)


if __name__ == '__main__':
    sys.exit(main())
