#!/usr/bin/env python3
"""Smoke test of bench/dp_tls_bench: runs it with --smoke (about 2 s) and checks that the
report is well formed: the machine table, one Markdown row and one CSV row per expected
measurement, positive finite rates, and exit status 0 (which dp_tls_bench gives only when
no phase stalled and every byte and frame arrived right). No number is compared with a
threshold (timing on a shared CI machine proves nothing).

    dp_tls_bench_check.py PATH_TO_dp_tls_bench
"""
import math
import subprocess
import sys

EXPECTED = [
    'raw seal AES-128-GCM', 'X25519 keygen+derive', 'ECDSA P-256 sign',
    'asymmetric bound (X25519 + ECDSA)',
    'bulk download, engine time', 'bulk download, generator time',
    'bulk download, whole bed on one core', 'records sealed, engine time',
    'full handshakes, engine time', 'full handshakes, generator time',
    'full handshakes, whole bed on one core',
]
MACHINE = ['CPU', 'core', 'TSC', 'baton commit', 'OpenSSL', 'ipsec-mb', 'bulk', 'handshakes']
CSV_HEADER = ('bench,metric,rate,unit,cycles_per_unit,engine_share,spread,ratio,ratio_to,'
              'cpu,core,tsc_ghz,commit,openssl,ipsec_mb,ipsec_mb_arch')


def fail(msg, out=''):
    print('dp_tls_bench_check: ' + msg)
    if out:
        print('--- report ---\n' + out)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail('usage: dp_tls_bench_check.py PATH_TO_dp_tls_bench')
    run = subprocess.run([sys.argv[1], '--smoke', '--commit', 'smoke-test'], capture_output=True,
                         text=True, timeout=55)
    out = run.stdout
    if run.returncode != 0:
        fail('exit status %d: %s' % (run.returncode, run.stderr.strip()), out)
    lines = out.splitlines()
    if not lines or not lines[0].startswith('# '):
        fail('no Markdown title', out)
    cells = {}
    rows = {}
    for line in lines:
        if line.startswith('|') and line.endswith('|'):
            parts = [p.strip() for p in line.strip('|').split('|')]
            if len(parts) == 2:
                cells[parts[0]] = parts[1]
            elif len(parts) == 9 and parts[0] != 'measurement' and not parts[0].startswith('---'):
                rows[parts[0]] = parts
    for key in MACHINE:
        if not cells.get(key):
            fail('machine table lacks %r' % key, out)
    if cells['baton commit'] != 'smoke-test':
        fail('--commit not reported', out)
    if CSV_HEADER not in lines:
        fail('no CSV header', out)
    csv = [l.split(',') for l in lines if l.startswith('dp_tls,')]
    ncols = len(CSV_HEADER.split(','))
    for name in EXPECTED:
        if name not in rows:
            fail('no Markdown row for %r' % name, out)
        csv_name = name.replace(',', ';')
        match = [r for r in csv if r[1] == csv_name]
        if len(match) != 1:
            fail('want one CSV row for %r, got %d' % (csv_name, len(match)), out)
        r = match[0]
        if len(r) != ncols:
            fail('CSV row for %r has %d columns, want %d' % (name, len(r), ncols), out)
        rate = float(r[2])
        if not (math.isfinite(rate) and rate > 0):
            fail('rate of %r is not a positive number: %s' % (name, r[2]), out)
        for col in (4, 5, 6, 7):
            v = float(r[col])
            if not (math.isfinite(v) and v >= 0):
                fail('column %s of %r is not a number >= 0: %s' % (col, name, r[col]), out)
        if r[12] != 'smoke-test':
            fail('CSV row for %r lacks the commit' % name, out)
    if len(csv) != len(EXPECTED):
        fail('%d CSV rows, want %d' % (len(csv), len(EXPECTED)), out)
    print('dp_tls_bench report well formed: %d measurements' % len(csv))


if __name__ == '__main__':
    main()
