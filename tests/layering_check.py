#!/usr/bin/env python3
"""Fails when a source file includes across a forbidden layering arrow.

ARCHITECTURE.md section 2: crypto/ depends on nothing of ours; dataplane/ on crypto/;
controlplane/ only on dataplane/api/. dataplane/api/ itself stays free of DPDK so the
control plane never sees DPDK types.

Usage: layering_check.py SOURCE_ROOT [STAMP_TO_WRITE]
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)
SOURCES = ('.h', '.hh', '.hpp', '.cc', '.cpp')


def rule_for(rel: str):
    """Returns (forbidden include prefixes, why) for a file path relative to the root."""
    if rel.startswith('crypto/'):
        return (('dataplane/', 'controlplane/', 'rte_'), 'crypto/ depends on nothing of ours')
    if rel.startswith('dataplane/api/'):
        return (('controlplane/', 'rte_', 'dataplane/net/', 'dataplane/tcp/', 'crypto/'),
                'dataplane/api/ is plain C++: no DPDK, no dataplane internals')
    if rel.startswith('dataplane/'):
        return (('controlplane/',), 'dataplane/ may not depend on controlplane/')
    if rel.startswith('controlplane/'):
        return (('crypto/', 'rte_', 'dpdk/'), 'controlplane/ sees only dataplane/api/')
    return ((), '')


def violations(root: pathlib.Path):
    for path in sorted(root.rglob('*')):
        if path.suffix not in SOURCES or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel.startswith(('build', 'tests/', 'bench/')):
            continue
        forbidden, why = rule_for(rel)
        text = path.read_text(errors='replace')
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            bad = inc.startswith(forbidden) if forbidden else False
            if rel.startswith('controlplane/') and inc.startswith('dataplane/') \
                    and not inc.startswith('dataplane/api/'):
                bad = True
            if bad:
                line = text.count('\n', 0, m.start()) + 1
                yield f'{rel}:{line}: includes "{inc}": {why}'


def main() -> int:
    root = pathlib.Path(sys.argv[1]).resolve()
    found = list(violations(root))
    for v in found:
        print(v, file=sys.stderr)
    if found:
        print(f'layering check: {len(found)} violation(s)', file=sys.stderr)
        return 1
    if len(sys.argv) > 2:
        pathlib.Path(sys.argv[2]).write_text('ok\n')
    print('layering check: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
