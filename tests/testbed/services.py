#!/usr/bin/python3
"""Backend test services for the baton testbed (run inside ns bt-backend).

  services.py echo --bind ADDR [--bind ADDR ...] --port 9000 [--pidfile FILE]
  services.py sink --bind ADDR [--bind ADDR ...] --port 9001 [--pidfile FILE]
  services.py reset --bind ADDR [--bind ADDR ...] --port 9002 [--pidfile FILE]

echo: every byte read is written back. When the client half-closes (shuts down
      its write side), the remaining bytes are echoed, then the connection is
      closed.
sink: reads everything; when the client half-closes, answers with the lowercase
      hex sha256 of all bytes read plus "\\n", then closes.
reset: after the first bytes arrive, answers "reset follows\\n" and aborts the
      connection with a TCP RST (SO_LINGER 0), as a crashing server would.

The pid file is written only after every listener is bound, so its presence
means the service is accepting connections. Debian's /usr/bin/python3 only,
standard library only.
"""

import argparse
import asyncio
import hashlib
import os
import resource
import signal
import socket
import struct
import sys

CHUNK = 256 * 1024
BACKLOG = 4096


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


async def handle_echo(reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:  # client half-closed: everything echoed, close
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        await close_quietly(writer)


async def handle_sink(reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    digest = hashlib.sha256()
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            digest.update(data)
        writer.write((digest.hexdigest() + "\n").encode("ascii"))
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        await close_quietly(writer)


async def handle_reset(reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
    try:
        if await reader.read(CHUNK):
            writer.write(b"reset follows\n")
            await writer.drain()
            await asyncio.sleep(0.2)  # let the line reach the client first
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    except (ConnectionError, OSError):
        writer.transport.abort()


HANDLERS = {"echo": handle_echo, "sink": handle_sink, "reset": handle_reset}


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


def write_pidfile(path: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, path)


async def serve(args: argparse.Namespace) -> None:
    handler = HANDLERS[args.service]
    servers = []
    for addr in args.bind:
        servers.append(await asyncio.start_server(
            handler, host=addr, port=args.port, reuse_address=True,
            backlog=BACKLOG, limit=CHUNK))
    if args.pidfile:
        write_pidfile(args.pidfile)
    print(f"{args.service}: listening on "
          f"{', '.join(f'{a}:{args.port}' for a in args.bind)} "
          f"pid {os.getpid()}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    if args.pidfile:
        try:
            os.unlink(args.pidfile)
        except FileNotFoundError:
            pass


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=sorted(HANDLERS))
    parser.add_argument("--bind", action="append", required=True,
                        help="address to listen on (repeatable)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pidfile", help="written once all listeners are bound")
    return parser.parse_args(argv)


def main(argv: list) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
