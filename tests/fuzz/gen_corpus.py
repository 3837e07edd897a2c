#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ (run from anywhere; output is checked in).

Seeds are a few valid inputs per target, so the fuzzer starts past the first checks.
l3_input_fuzz seeds carry the 12-byte prefix that l3_input_fuzz.cc documents.
"""
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

OUR_MAC0 = bytes([2, 0, 0, 0, 0, 1])      # port 0, untagged, 198.18.11.11/24
OUR_MAC1 = bytes([2, 0, 0, 0, 0, 2])      # port 1, VLAN 10, 198.18.12.11/31
PEER_MAC = bytes([2, 0, 0, 0, 0, 0x99])
BCAST = b'\xff' * 6


def ip(a):
    return bytes(int(x) for x in a.split('.'))


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return struct.pack('!H', ~s & 0xffff)


def eth(dst, src, etype, vlan=0):
    if vlan:
        return dst + src + struct.pack('!HHH', 0x8100, vlan, etype)
    return dst + src + struct.pack('!H', etype)


def arp(op, sha, spa, tha, tpa):
    return struct.pack('!HHBBH', 1, 0x0800, 6, 4, op) + sha + ip(spa) + tha + ip(tpa)


def ipv4(src, dst, proto, payload, options=b''):
    ihl = (20 + len(options)) // 4
    h = struct.pack('!BBHHHBB', 0x40 | ihl, 0, 20 + len(options) + len(payload), 1, 0, 64, proto)
    h += b'\0\0' + ip(src) + ip(dst) + options
    return h[:10] + csum(h) + h[12:] + payload


def echo(ident, seq, data):
    m = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + data
    return m[:2] + csum(m) + m[4:]


def pad(frame):
    return frame + b'\0' * max(0, 60 - len(frame))


def l3(ctl, now_us, route_dst, step_10ms, frame, ctl2=0):
    return (bytes([ctl]) + struct.pack('!I', now_us) + ip(route_dst) + struct.pack('!H', step_10ms) +
            bytes([ctl2]) + frame)


def tcp_csum(src, dst, seg):
    pseudo = ip(src) + ip(dst) + struct.pack('!BBH', 0, 6, len(seg))
    return seg[:16] + csum(pseudo + seg) + seg[18:]


def tcp(flags, options=b'', payload=b'', seq=1000, ack=0):
    off = (20 + len(options)) // 4
    return struct.pack('!HHIIBBHHH', 40000, 443, seq, ack, off << 4, flags, 65535, 0, 0) + options + payload


def main():
    out = HERE / 'corpus'
    if out.exists():
        shutil.rmtree(out)
    seeds = {
        'l3_input_fuzz': {
            # ARP request for our port-0 address; then route to the sender and time out.
            'arp-request': l3(0x80, 1_000_000, '198.18.11.20', 150, pad(
                eth(BCAST, PEER_MAC, 0x0806) + arp(1, PEER_MAC, '198.18.11.20', b'\0' * 6, '198.18.11.11'))),
            # ARP reply to us for a next hop with a queued packet: learned, released.
            'arp-reply': l3(0xc0, 5_000_000, '198.18.11.1', 3000, pad(
                eth(OUR_MAC0, PEER_MAC, 0x0806) + arp(2, PEER_MAC, '198.18.11.1', OUR_MAC0, '198.18.11.11'))),
            # RFC 5227 probe (sender 0.0.0.0), with Start() and the sink out of buffers.
            'arp-probe': l3(0x30, 0, '8.8.8.8', 100, pad(
                eth(BCAST, PEER_MAC, 0x0806) + arp(1, PEER_MAC, '0.0.0.0', b'\0' * 6, '198.18.11.11'))),
            # ICMP echo on VLAN 10 (port 1, checksum offload), NIC said the checksum is good.
            'icmp-echo-vlan': l3(0x05, 2_000_000, '198.18.12.10', 10, eth(
                OUR_MAC1, PEER_MAC, 0x0800, vlan=10) + ipv4(
                '198.18.12.10', '198.18.12.11', 1, echo(0x1234, 1, bytes(range(56))))),
            # TCP SYN to the VIP on port 0, checksum checked in software, echoed with SendTcp.
            'tcp-syn-vip': l3(0x80, 4_000_000, '198.18.11.20', 100, eth(OUR_MAC0, PEER_MAC, 0x0800) + ipv4(
                '198.18.11.20', '198.18.11.100', 6, tcp_csum('198.18.11.20', '198.18.11.100', tcp(
                    0x02, struct.pack('!BBH', 2, 4, 1460) + b'\x01\x03\x03\x07'))), ctl2=0x04),
            # TCP data on VLAN 10 (port 1), NIC says the TCP checksum is good.
            'tcp-data-vlan': l3(0x01, 6_000_000, '198.18.12.10', 50, eth(OUR_MAC1, PEER_MAC, 0x0800, vlan=10) + ipv4(
                '198.18.12.10', '198.18.12.11', 6, tcp(0x18, payload=b'GET / HTTP/1.1\r\n\r\n', ack=1)),
                ctl2=0x05),
            # IPv4 with options (router alert, NOP, EOL) carrying an ICMP echo, port 0.
            'ipv4-options': l3(0x00, 3_000_000, '203.0.113.9', 200, eth(
                OUR_MAC0, PEER_MAC, 0x0800) + ipv4(
                '203.0.113.9', '198.18.11.11', 1, echo(7, 9, b'baton'), options=b'\x94\x04\0\0\x01\x01\x01\0')),
        },
        'tcp_segment_fuzz': {
            # byte 0 even: the rest is a segment on the wire.
            'syn-all-options': b'\x00' + tcp(0x02, struct.pack('!BBH', 2, 4, 1460) + b'\x04\x02' +
                                             struct.pack('!BBII', 8, 10, 12345, 0) + b'\x01\x03\x03\x07'),
            'ack-sack-payload': b'\x06' + tcp(0x10, b'\x01\x01' + struct.pack('!BBIIII', 5, 18, 100, 200, 300, 400) +
                                              b'\x01\x01' + struct.pack('!BBII', 8, 10, 1, 2), b'hello, world', ack=77),
            'fin-unknown-option': b'\x02' + tcp(0x11, b'\x1e\x06abcd\x00\x00'),
            # byte 0 odd: fields for the builder (FuzzedDataProvider).
            'fields': b'\x01' + bytes(range(1, 120)),
        },
        'config_fuzz': {
            'demo.toml': (ROOT / 'configs' / 'demo.toml').read_bytes(),
            'vlan-mtu.toml': b'[arp]\nstale_ms = 60000\npending_packets = 8\n\n[[port]]\nname = "front"\n'
                             b'roles = ["front", "back"]\ndevice = "0000:03:00.0,rxq=2"\n'
                             b'address = "10.0.0.2/31"\nmtu = 9000\nvlan = 10\n',
            'error.toml': b'[dataplane]\nworkers = 0\n[[port]]\nname = "Front"\naddress = "010.1.2.3/24"\n',
        },
        'ip_addr_fuzz': {
            'v4': b'198.18.2.11',
            'v4-prefix': b'198.18.2.11/24',
            'v6': b'2001:db8::1',
            'v6-mapped': b'::ffff:192.0.2.1',
            'v6-prefix': b'fe80::1:2:3:4/64',
            'zero-prefix': b'0.0.0.0/0',
        },
    }
    for target, files in seeds.items():
        d = out / target
        d.mkdir(parents=True)
        for name, data in files.items():
            (d / name).write_bytes(data)


if __name__ == '__main__':
    main()
