#!/usr/bin/env python3
"""Many concurrent TLS transfers through baton, with an event in the middle.

download: GET a byte range of a file on nginx (through the :443 listener), check the
          body's sha256 against the same range of the local copy of the file.
echo:     upload a stream to the echo service (through :9443) a chunk at a time, each read
          back before the next goes, and check the bytes that come back are the bytes sent.

Once `--trigger-at` of all bytes have arrived, runs `--trigger` (a shell command, e.g.
`baton ctl worker halt 1`) once. Every transfer is bounded by `--timeout`. For each
connection it records the longest gap between two reads in the 10 s after the trigger
(the stall its client saw while the event happened) and in the 10 s before it (what the
same client saw anyway).

Prints one JSON object: {"conns", "ok", "errors", "bytes", "seconds", "trigger_s",
"trigger_rc", "stall_ms": {"median", "worst"}, "stall_before_ms": {...}, "mbit_s"}. Exit status 0 when every
transfer completed with the right bytes, else 1.
"""
import argparse
import asyncio
import hashlib
import json
import ssl
import statistics
import sys
import time

CHUNK = 256 * 1024


class Run:
    def __init__(self, args):
        self.args = args
        self.expected_total = args.conns * args.bytes
        self.received = 0
        self.trigger_s = None
        self.trigger_rc = None
        self.t0 = time.monotonic()
        self.trigger_task = None

    def got(self, n):
        self.received += n
        if (self.trigger_task is None and self.args.trigger
                and self.received >= self.args.trigger_at * self.expected_total):
            self.trigger_task = asyncio.ensure_future(self.fire())

    async def fire(self):
        self.trigger_s = time.monotonic() - self.t0
        # Its output goes to our stderr: stdout carries only the JSON result.
        proc = await asyncio.create_subprocess_shell(self.args.trigger, stdout=sys.stderr.fileno())
        self.trigger_rc = await proc.wait()


class Gaps:
    """Longest gap between two reads in the window after the trigger, and in a window
    of the same length before it (the same clients' gaps without the event)."""

    WINDOW_S = 10.0

    def __init__(self, run):
        self.run = run
        self.last = time.monotonic()
        self.ends = []  # (end, gap) of every gap, in seconds since run start

    def tick(self):
        now = time.monotonic()
        self.ends.append((now - self.run.t0, now - self.last))
        self.last = now

    def worst(self, after):
        t = self.run.trigger_s
        if t is None:
            return None
        lo, hi = (t, t + self.WINDOW_S) if after else (t - self.WINDOW_S, t)
        # A gap counts for the window its end falls in (one spanning the trigger: after).
        return max((g for end, g in self.ends if lo <= end < hi), default=0.0)


def context(args):
    ctx = ssl.create_default_context(cafile=args.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


async def download(run, i, ctx):
    a = run.args
    offset = (i % 8) * a.bytes
    reader, writer = await asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=a.sni)
    writer.write((f"GET {a.path} HTTP/1.1\r\nHost: {a.sni}\r\n"
                  f"Range: bytes={offset}-{offset + a.bytes - 1}\r\nConnection: close\r\n\r\n").encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 206"):
        raise RuntimeError("status " + head.split(b"\r\n")[0].decode(errors="replace"))
    h = hashlib.sha256()
    n = 0
    gaps = Gaps(run)
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        gaps.tick()
        h.update(data)
        n += len(data)
        run.got(len(data))
    writer.close()
    return n, h.hexdigest(), expected_range(a, offset), gaps


RANGES = {}


def expected_range(a, offset):
    if offset not in RANGES:
        with open(a.file, "rb") as f:
            f.seek(offset)
            RANGES[offset] = hashlib.sha256(f.read(a.bytes)).hexdigest()
    return RANGES[offset]


async def echo(run, i, ctx):
    """Uploads in steps of one CHUNK, each read back before the next is sent: at most one
    chunk per direction is in flight, so neither side's buffers fill up and a stall is the
    path's, not the echo service's back-pressure."""
    a = run.args
    reader, writer = await asyncio.open_connection(a.host, a.port, ssl=ctx, server_hostname=a.sni)
    block = hashlib.sha256(b"flow %d" % i).digest() * (CHUNK // 32)
    sent, got = hashlib.sha256(), hashlib.sha256()
    n = 0
    gaps = Gaps(run)
    while n < a.bytes:
        piece = block[:min(a.bytes - n, len(block))]
        writer.write(piece)
        sent.update(piece)
        back = 0
        while back < len(piece):
            data = await reader.read(len(piece) - back)
            if not data:
                return n + back, got.hexdigest(), sent.hexdigest(), gaps
            gaps.tick()
            got.update(data)
            back += len(data)
            run.got(len(data))
        n += back
    writer.close()
    return n, got.hexdigest(), sent.hexdigest(), gaps


async def one(run, i, ctx, results):
    a = run.args
    try:
        fn = download if a.mode == "download" else echo
        n, got, want, gaps = await asyncio.wait_for(fn(run, i, ctx), a.timeout)
        if n != a.bytes or got != want:
            results.append({"conn": i, "error": f"{n} bytes, sha256 {got[:16]} (want {a.bytes}, {want[:16]})"})
        else:
            results.append({"conn": i, "stall_s": gaps.worst(True), "before_s": gaps.worst(False)})
    except (Exception, asyncio.TimeoutError) as e:  # a reset, an alert, a timeout
        results.append({"conn": i, "error": f"{type(e).__name__}: {e}"})


async def main_async(args):
    run = Run(args)
    ctx = context(args)
    results = []
    await asyncio.gather(*(one(run, i, ctx, results) for i in range(args.conns)))
    if run.trigger_task is not None:
        await run.trigger_task
    seconds = time.monotonic() - run.t0
    errors = [r for r in results if "error" in r]
    def summary(key):
        ms = [r[key] * 1000 for r in results if r.get(key) is not None]
        return {"median": round(statistics.median(ms), 1) if ms else None,
                "worst": round(max(ms), 1) if ms else None}

    return {
        "conns": args.conns,
        "ok": len(results) - len(errors),
        "errors": errors[:10],
        "bytes": run.received,
        "seconds": round(seconds, 3),
        "mbit_s": round(run.received * 8 / seconds / 1e6, 1),
        "trigger_s": run.trigger_s,
        "trigger_rc": run.trigger_rc,
        "stall_ms": summary("stall_s"),
        "stall_before_ms": summary("before_s"),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["download", "echo"], required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sni", default="www.example.com")
    p.add_argument("--cafile", required=True)
    p.add_argument("--path", default="/files/256m.bin")
    p.add_argument("--file", help="local copy of the file behind --path (download)")
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--bytes", type=int, default=20 << 20, help="per connection")
    p.add_argument("--trigger", default="")
    p.add_argument("--trigger-at", type=float, default=0.3)
    p.add_argument("--timeout", type=float, default=240)
    args = p.parse_args()
    if args.mode == "download" and (args.file is None or args.bytes * 8 > 256 << 20):
        p.error("download needs --file, and 8 ranges of --bytes must fit the 256 MiB file")
    out = asyncio.run(main_async(args))
    print(json.dumps(out))
    return 0 if out["ok"] == args.conns else 1


if __name__ == "__main__":
    sys.exit(main())
