#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ (run from anywhere; output is checked in).

Seeds are a few valid inputs per target, so the fuzzer starts past the first checks.
l3_input_fuzz seeds carry the 12-byte prefix that l3_input_fuzz.cc documents.
The tls_* seeds carry the prefixes their .cc files document. Their ClientHellos come from
libssl through Python's ssl module (memory BIOs, nothing on the network), so they differ
(random, key shares) on every run; the sealed records need the `cryptography` package.
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


# --- TLS (tls_record_fuzz, tls_handshake_fuzz) ------------------------------------------

def tls_client_flight(tls13_only=False, tls12_only=False, curve=None, alpn=None, sni=None):
    """libssl's first flight (the ClientHello record) for these client settings."""
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls13_only:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if curve:
        ctx.set_ecdh_curve(curve)  # OpenSSL 3: the only group offered and shared
    if alpn:
        ctx.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_record(ctype, body, version=0x0303):
    return struct.pack('!BHH', ctype, version, len(body)) + body


def tls_records(flight):
    """Splits a record stream into (type, body) pairs."""
    out, off = [], 0
    while off + 5 <= len(flight):
        n = struct.unpack('!H', flight[off + 3:off + 5])[0]
        out.append((flight[off], flight[off + 5:off + 5 + n]))
        off += 5 + n
    return out


def tls_hello_body(flight):
    """The ClientHello body (no record or handshake header) of a one-record flight."""
    return flight[9:]


def tls_rename_share(flight, old, new):
    """The ClientHello with key_share group `old` renamed `new` (lengths unchanged)."""
    b = bytearray(flight)
    off = 9 + 2 + 32
    off += 1 + b[off]
    off += 2 + struct.unpack('!H', b[off:off + 2])[0]
    off += 1 + b[off]
    end = off + 2 + struct.unpack('!H', b[off:off + 2])[0]
    off += 2
    while off < end:
        etype, elen = struct.unpack('!HH', b[off:off + 4])
        if etype == 51:
            p, pend = off + 6, off + 4 + elen
            while p < pend:
                group, klen = struct.unpack('!HH', b[p:p + 4])
                if group == old:
                    b[p:p + 2] = struct.pack('!H', new)
                p += 4 + klen
        off += 4 + elen
    return bytes(b)


TLS_FIXED_KEY = bytes(range(32))                      # tls_record_fuzz.cc FixedKeys()
TLS_FIXED_IV = bytes(range(0x40, 0x40 + 12))


def tls_seal(alg, seq, ctype, content, padding=0):
    """A TLS 1.3 record sealed with tls_record_fuzz's fixed key (alg 0/1/2 as byte 0)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    aead = [AESGCM(TLS_FIXED_KEY[:16]), AESGCM(TLS_FIXED_KEY), ChaCha20Poly1305(TLS_FIXED_KEY)][alg]
    nonce = bytes(a ^ b for a, b in zip(TLS_FIXED_IV, b'\0' * 4 + struct.pack('!Q', seq)))
    inner = content + bytes([ctype]) + b'\0' * padding
    header = struct.pack('!BHH', 23, 0x0303, len(inner) + 16)
    return header + aead.encrypt(nonce, inner, header)


def tls_message(mtype, body):
    return bytes([mtype]) + struct.pack('!I', len(body))[1:] + body


def tls_msg(ctl, data):
    """One tls_handshake_fuzz mode-2/3 message: [ctl][u16 len][bytes]."""
    return bytes([ctl]) + struct.pack('!H', len(data)) + data


def tls_seeds():
    default = tls_client_flight(sni='www.example.com', alpn=['h2', 'http/1.1'])
    p256 = tls_client_flight(tls13_only=True, curve='prime256v1')
    tls12 = tls_client_flight(tls12_only=True)
    bare = tls_client_flight(tls13_only=True)
    hello_msg = tls_records(bare)[0][1]  # the ClientHello message (handshake header on)
    ccs = tls_record(20, b'\x01')
    record = {
        # [alg, seq, split seed, inner type, padding] + stream
        'client-hello-aes128': bytes([0, 0, 0, 22, 0]) + default,
        'client-hello-split-aes256': bytes([1, 3, 5, 22, 1]) + tls_record(22, hello_msg[:100], 0x0301) +
                                     tls_record(22, hello_msg[100:]),
        'ccs-alert-chacha': bytes([2, 1, 2, 21, 16]) + ccs + tls_record(21, b'\x02\x32'),
        'sealed-aes128': bytes([0, 7, 3, 23, 0]) + tls_seal(0, 7, 23, b'GET / HTTP/1.1\r\n\r\n') +
                         tls_seal(0, 7, 22, b'\x18\x00\x00\x01\x01', padding=32),
        'sealed-aes256-padded': bytes([1, 0, 9, 0, 255]) + tls_seal(1, 0, 21, b'\x01\x00', padding=200),
        'sealed-chacha-max': bytes([2, 2, 200, 23, 0]) + tls_seal(2, 2, 23, bytes(range(256)) * 64),
        'sealed-all-zero': bytes([0, 0, 1, 0, 0]) + tls_seal(0, 0, 0, b'', padding=20),
        'plaintext-max': bytes([1, 0, 60, 22, 0]) + tls_record(22, b'\x01\x00\x3f\xfc' + b'\x00' * 16380),
        'over-max': bytes([0, 0, 4, 23, 0]) + tls_record(23, b'\xaa' * (16384 + 257)),
    }
    fin = tls_message(20, b'\x5a' * 32)
    key_update_req = tls_message(24, b'\x01')
    handshake = {
        # byte 0: bits 0-1 mode, 2-4 piece size, 5-6 config or suite, 7 (mode 2) real Finished
        'stream-default': bytes([0x00]) + default,
        'stream-p256-1byte': bytes([0x04]) + p256,
        'stream-tls12': bytes([0x00]) + tls12,
        'stream-alpn-server': bytes([0x40 | 0x14]) + default,
        'stream-hrr': bytes([0x20]) + bare,                        # server: P-256 only
        'stream-hrr-unknown-share': bytes([0x00]) + tls_rename_share(bare, 0x1d, 0x1e),
        'stream-ccs-split': bytes([0x0c]) + tls_record(22, hello_msg[:7]) + tls_record(22, hello_msg[7:]) + ccs,
        'body-default': bytes([0x01]) + tls_hello_body(default),
        'body-p256-small-records': bytes([0x01 | 0x10]) + tls_hello_body(p256),
        'body-tls12': bytes([0x01]) + tls_hello_body(tls12),
        'flight-bad-finished': bytes([0x02]) + tls_msg(22, fin) + tls_msg(0x80, ccs),
        'flight-real-finished-data': bytes([0x82 | 0x20]) + tls_msg(23, b'hello') + tls_msg(22, key_update_req) +
                                     tls_msg(23, b'after update') + tls_msg(21, b'\x01\x00'),
        'connected-data-keyupdate': bytes([0x03]) + tls_msg(23, b'GET / HTTP/1.1\r\n\r\n') +
                                    tls_msg(22, key_update_req) + tls_msg(0x40 | 23, b'x' * 100) +
                                    tls_msg(22, tls_message(24, b'\x00')) + tls_msg(23, b''),
        'connected-chacha-alert': bytes([0x43 | 0x08]) + tls_msg(23, b'a') + tls_msg(21, b'\x02\x28'),
        'connected-raw-plaintext': bytes([0x23]) + tls_msg(0x80, tls_record(22, key_update_req)) +
                                   tls_msg(0x60 | 23, b'padded'),
        'connected-write-close': bytes([0x03]) + tls_msg(0x1f, b'to the client' * 2000) + tls_msg(23, b'in') +
                                 tls_msg(0x1e, b'') + tls_msg(23, b'after close') + tls_msg(21, b'\x01\x00'),
        'connected-split-message': bytes([0x03 | 0x04]) + tls_msg(22, key_update_req[:2]) +
                                   tls_msg(22, key_update_req[2:]) + tls_msg(23, b'z' * 3000),
    }
    return {'tls_record_fuzz': record, 'tls_handshake_fuzz': handshake}


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
    seeds.update(tls_seeds())
    for target, files in seeds.items():
        d = out / target
        d.mkdir(parents=True)
        for name, data in files.items():
            (d / name).write_bytes(data)


if __name__ == '__main__':
    main()
