#!/usr/bin/env python3
"""Checks that a bench/tls_compare.sh report is well formed: the Markdown has the machine
table, a ratio row per metric, raw numbers for each load balancer, the sweep; the CSV has
the right header and a row for every (round, LB, metric); both plots are PNG files. No
number is compared with a threshold (timing on a shared 2-core machine proves nothing).
Not part of `make test` (it needs a run on the testbed); run it on a `--quick` output:

    bench/tls_compare.sh --quick && bench/tls_compare_check.py bench/results/tls_compare-*.md
    tls_compare_check.py REPORT.md [--strict]

--strict also fails when a measurement did not succeed (status other than ok or
no-resumption).
"""
import csv
import math
import os
import sys

LBS = ('baton', 'haproxy', 'nginx')
METRICS = ('ka_rps', 'full_hs', 'resumed_hs', 'bulk_mbps', 'lat_p50_ms', 'lat_p99_ms')
SWEEP = ('sweep_rps_c1', 'sweep_rps_c8', 'sweep_rps_c32', 'sweep_rps_c128')
HEADER = ['round', 'lb', 'metric', 'value', 'unit', 'cpu_s', 'count', 'status', 'note']
STATUSES = ('ok', 'no-resumption', 'errors', 'saturated', 'FAIL')
MACHINE = ('machine', 'kernel', 'DPDK', 'OpenSSL', 'ipsec-mb', 'HAProxy', 'nginx', 'baton commit')
RATIO_ROWS = (
    'TLS 1.3 keep-alive req/s', 'full handshakes/s', 'resumed handshakes/s', 'bulk download MB/s',
    'p50 latency', 'p99 latency', 'CPU s per 1,000 keep-alive requests', 'CPU s per 1,000 full handshakes',
    'CPU s per 1,000 resumed handshakes', 'CPU s per GB',
)
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def fail(msg):
    print('tls_compare_check: FAIL: ' + msg)
    sys.exit(1)


def main():
    args = [a for a in sys.argv[1:] if a != '--strict']
    strict = '--strict' in sys.argv[1:]
    if len(args) != 1 or not args[0].endswith('.md'):
        fail('usage: tls_compare_check.py REPORT.md [--strict]')
    md_path = args[0]
    base = md_path[:-3]
    md = open(md_path).read()
    lines = md.splitlines()
    if not lines or not lines[0].startswith('# TLS comparison'):
        fail('no title')
    cells = {}
    for line in lines:
        if line.startswith('|') and line.endswith('|'):
            parts = [p.strip() for p in line.strip('|').split('|')]
            if len(parts) == 2:
                cells.setdefault(parts[0], parts[1])
    for key in MACHINE:
        if not cells.get(key) or cells[key] in ('?', 'unknown'):
            fail('machine table lacks %r' % key)
    for section in ('## Ratios over the rounds', '## Raw numbers', '## Keep-alive req/s against connections',
                    '## Plots'):
        if section not in md:
            fail('no section %r' % section)
    ratio_lines = [l for l in lines if l.startswith('| ') and l.count('|') == 9]
    for name in RATIO_ROWS:
        match = [l for l in ratio_lines if l.startswith('| ' + name)]
        if len(match) != 1:
            fail('want one ratio row for %r, got %d' % (name, len(match)))
        for c in [p.strip() for p in match[0].strip('|').split('|')][2:]:
            if c != '–':
                v = float(c)
                if not (math.isfinite(v) and v > 0):
                    fail('ratio %r of %r is not a positive number' % (c, name))

    rows = list(csv.reader(open(base + '.csv')))
    if not rows or rows[0] != HEADER:
        fail('CSV header is %r, want %r' % (rows[0] if rows else None, HEADER))
    body = rows[1:]
    seen = {}
    rounds = set()
    for r in body:
        if len(r) != len(HEADER):
            fail('CSV row with %d columns: %r' % (len(r), r))
        rnd, lb, metric, val, _unit, cpu, count, status, _note = r
        rounds.add(int(rnd))
        if lb not in LBS:
            fail('unknown LB %r' % lb)
        if status not in STATUSES:
            fail('unknown status %r' % status)
        if strict and status not in ('ok', 'no-resumption'):
            fail('round %s %s %s: %s (%s)' % (rnd, lb, metric, status, r[8]))
        for what, v in (('value', val), ('cpu_s', cpu), ('count', count)):
            x = float(v)
            if not (math.isfinite(x) and x >= 0):
                fail('%s of %s/%s is not a number >= 0: %r' % (what, lb, metric, v))
        if status == 'ok' and metric not in ('lat_p50_ms', 'lat_p99_ms') and float(val) <= 0:
            fail('%s/%s ok but value %s' % (lb, metric, val))
        key = (int(rnd), lb, metric)
        if key in seen:
            fail('duplicate CSV row %r' % (key,))
        seen[key] = r
    if not rounds or sorted(rounds) != list(range(1, max(rounds) + 1)):
        fail('rounds are %r' % sorted(rounds))
    for rnd in rounds:
        for lb in LBS:
            for m in METRICS + (SWEEP if rnd == 1 else ()):
                if (rnd, lb, m) not in seen:
                    fail('no CSV row for round %d %s %s' % (rnd, lb, m))
    for lb in LBS:
        for rnd in rounds:
            p50, p99 = seen[(rnd, lb, 'lat_p50_ms')], seen[(rnd, lb, 'lat_p99_ms')]
            if p50[7] == 'ok' and float(p99[3]) < float(p50[3]):
                fail('round %d %s: p99 %s < p50 %s' % (rnd, lb, p99[3], p50[3]))
    for suffix in ('-ratios.png', '-sweep.png'):
        path = base + suffix
        if not os.path.exists(path) or os.path.getsize(path) < 1000:
            fail('no plot %s' % path)
        with open(path, 'rb') as f:
            if f.read(8) != PNG_MAGIC:
                fail('%s is not a PNG' % path)
        if os.path.basename(path) not in md:
            fail('report does not show %s' % os.path.basename(path))
    print('tls_compare_check: ok: %s (%d rounds, %d CSV rows)' % (md_path, len(rounds), len(body)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
