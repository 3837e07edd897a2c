#!/usr/bin/python3
"""TCP clients for the end-to-end tests (run inside ns bt-client). Bounded in bytes,
connections and time; each prints one result line and exits 0 only on success.

  tcp_clients.py stream HOST PORT BYTES     send BYTES of seeded random data to an echo
                                            service while reading the echo; sha256 equal
  tcp_clients.py upload HOST PORT BYTES     send BYTES to the sink, half-close, compare the
                                            sha256 the sink answers with our own
  tcp_clients.py concurrent HOST PORT N     hold N echo connections open at once, each
                                            echoing a message, then close them all
  tcp_clients.py backend-reset HOST PORT    the reset service answers a line then RSTs: we
                                            must see the line, then a connection reset
  tcp_clients.py client-reset HOST PORT     echo a message, then abort with RST
  tcp_clients.py backend-fin HOST PORT      HTTP/1.0 request to nginx, which closes first:
                                            we must read the whole answer and then EOF
                                            while our own side is still open
"""
import asyncio
import hashlib
import random
import resource
import socket
import struct
import sys
import threading
import time

CHUNK = 1 << 20
TIMEOUT_S = 300


def stream(host, port, total):
    rng = random.Random(1)
    sent_hash, recv_hash = hashlib.sha256(), hashlib.sha256()
    s = socket.create_connection((host, port), timeout=30)
    s.settimeout(TIMEOUT_S)
    received = [0]

    def reader():
        while received[0] < total:
            data = s.recv(CHUNK)
            if not data:
                break
            recv_hash.update(data)
            received[0] += len(data)

    t = threading.Thread(target=reader)
    start = time.monotonic()
    t.start()
    left = total
    while left:
        chunk = rng.randbytes(min(CHUNK, left))
        sent_hash.update(chunk)
        s.sendall(chunk)
        left -= len(chunk)
    s.shutdown(socket.SHUT_WR)
    t.join(TIMEOUT_S)
    elapsed = time.monotonic() - start
    s.close()
    ok = received[0] == total and sent_hash.digest() == recv_hash.digest()
    print(f"stream: sent {total} received {received[0]} sha256 {'equal' if ok else 'DIFFERENT'} "
          f"{total / elapsed / 1e6:.1f} MB/s each way")
    return ok


def upload(host, port, total):
    rng = random.Random(2)
    h = hashlib.sha256()
    s = socket.create_connection((host, port), timeout=30)
    s.settimeout(TIMEOUT_S)
    start = time.monotonic()
    left = total
    while left:
        chunk = rng.randbytes(min(CHUNK, left))
        h.update(chunk)
        s.sendall(chunk)
        left -= len(chunk)
    s.shutdown(socket.SHUT_WR)  # half-close: the sink answers only after our FIN
    answer = b""
    while True:
        data = s.recv(4096)
        if not data:
            break
        answer += data
    elapsed = time.monotonic() - start
    s.close()
    ok = answer.decode().strip() == h.hexdigest()
    print(f"upload: {total} bytes, sink's sha256 {'equal' if ok else 'DIFFERENT'} "
          f"{total / elapsed / 1e6:.1f} MB/s")
    return ok


async def concurrent(host, port, n):
    conns = []
    for i in range(n):
        conns.append(await asyncio.wait_for(asyncio.open_connection(host, port), 30))
    # All n are open now; each echoes a message of its own.
    async def one(i, reader, writer):
        msg = f"connection {i:05d} ".encode() * 4
        writer.write(msg)
        await writer.drain()
        got = await asyncio.wait_for(reader.readexactly(len(msg)), 60)
        return got == msg
    results = await asyncio.gather(*(one(i, r, w) for i, (r, w) in enumerate(conns)))
    for _, w in conns:
        w.close()
    ok = sum(results)
    print(f"concurrent: {ok}/{n} connections open at once echoed their message")
    return ok == n


def backend_reset(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(10)
    s.sendall(b"x")
    line = b""
    try:
        while not line.endswith(b"\n"):
            data = s.recv(100)
            if not data:
                break
            line += data
        more = s.recv(100)
        outcome = "EOF" if not more else "more data"
    except ConnectionResetError:
        outcome = "reset"
    except socket.timeout:
        outcome = "timeout"
    s.close()
    ok = line == b"reset follows\n" and outcome == "reset"
    print(f"backend-reset: got {line!r}, then {outcome}")
    return ok


def client_reset(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(10)
    s.sendall(b"ping before reset\n")
    got = b""
    while len(got) < 18:
        data = s.recv(100)
        if not data:
            break
        got += data
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # with linger 0: RST instead of FIN
    print(f"client-reset: echoed {got!r}, then aborted with RST")
    return got == b"ping before reset\n"


def backend_fin(host, port):
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(10)
    s.sendall(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")  # no shutdown: our side stays open
    answer = b""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                break
            answer += data
        outcome = "EOF"
    except ConnectionResetError:
        outcome = "reset"
    except socket.timeout:
        outcome = "timeout"
    s.close()
    ok = outcome == "EOF" and answer.startswith(b"HTTP/1.1 200") and b"backend 198.18.3." in answer
    print(f"backend-fin: {len(answer)} bytes, then {outcome}")
    return ok


def main(argv):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cmd, host, port = argv[0], argv[1], int(argv[2])
    if cmd == "stream":
        ok = stream(host, port, int(argv[3]))
    elif cmd == "upload":
        ok = upload(host, port, int(argv[3]))
    elif cmd == "concurrent":
        ok = asyncio.run(concurrent(host, port, int(argv[3])))
    elif cmd == "backend-reset":
        ok = backend_reset(host, port)
    elif cmd == "client-reset":
        ok = client_reset(host, port)
    elif cmd == "backend-fin":
        ok = backend_fin(host, port)
    else:
        print(__doc__)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
