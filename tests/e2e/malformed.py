#!/usr/bin/python3
"""Sends malformed frames at a box's front port from the router's bridge, with scapy.

Usage (inside bt-router): malformed.py IFACE DST_MAC DST_IP COUNT
Prints one line per kind: "<drop_key> <count>" — the drop reason baton must count.
Bounded: COUNT frames of each kind, nothing else; only testbed addresses.
"""
import sys

from scapy.all import ARP, ICMP, IP, Ether, Raw, Dot1Q, conf, sendp  # noqa: E402

conf.verb = 0

iface, dst_mac, dst_ip, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
src_ip = "198.18.2.1"


def l2():
    return Ether(dst=dst_mac)


def raw_ip(**fields):
    """An IPv4 packet with a correct checksum unless fields override it."""
    pkt = IP(src=src_ip, dst=dst_ip, **fields) / ICMP() / Raw(b"x" * 16)
    return pkt


cases = {
    # A truncated Ethernet header: the sending kernel pads a packet-socket frame to
    # 14 bytes with zeros, so it arrives as EtherType 0. (A truly short frame never
    # crosses a veth; kShortFrame is covered by the crafted-packet tests.)
    "unknown_ethertype": Raw(bytes.fromhex(dst_mac.replace(":", "")) + b"\x02\x00\x00\x00\x00\x01"),
    # 4 bytes of IPv4 header only.
    "ipv4_short": Ether(dst=dst_mac, type=0x0800) / Raw(b"\x45\x00\x00\x14"),
    "ipv4_bad_checksum": l2() / IP(bytes(raw_ip(chksum=0x1234))),
    "ipv4_bad_ihl": l2() / raw_ip(ihl=3),
    "ipv4_bad_total_length": l2() / raw_ip(len=1400),
    "ipv4_bad_version": Ether(dst=dst_mac, type=0x0800) / Raw(b"\x65" + bytes(raw_ip())[1:]),
    # No IPv4 fragment here: DPDK 22.11's af_packet PMD opens its socket with
    # PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles or holds fragments before
    # baton sees them. Fragment drops are covered by the crafted-packet tests.
    "arp_malformed": l2() / ARP(op=1, hwlen=8, plen=4, pdst=dst_ip, psrc=src_ip),
    "icmp_bad_checksum": l2() / IP(src=src_ip, dst=dst_ip) / ICMP(chksum=0x4321) / Raw(b"y" * 8),
    "ipv4_not_for_us": l2() / IP(src=src_ip, dst="198.18.2.99") / ICMP(),
    # A jumbo frame; the test raises the links' MTU so the kernel lets it through;
    # af_packet hands baton its first frame-size bytes, still longer than the MTU.
    "frame_too_long": l2() / IP(src=src_ip, dst=dst_ip) / ICMP() / Raw(b"z" * (9000 - 28)),
}

for key, frame in cases.items():
    sendp(frame, iface=iface, count=count)
    print(key, count)
