#!/usr/bin/env python3
# A lossy, slow wire for the UDP bench: two TUN devices, every IP packet read from one is written to the
# other after a delay (plus jitter) unless it is dropped. Python because creating a TUN device needs the
# TUNSETIFF ioctl, which Node cannot issue; this kernel has no netem. It knows nothing of xnat or UDP.
#
# Usage: impair.py NAME_A NAME_B --delay-ms 10 --jitter-ms 1 --loss 0.01 [--seed 1]
# Prints "ready" once both devices exist (the caller then moves them into namespaces), runs until killed,
# and prints one JSON line of counters on SIGTERM.
import argparse
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# Packets held at once per direction: a bound, so a flood cannot grow the forwarder without limit.
MAX_QUEUED = 50_000


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--delay-ms", type=float, default=10.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rnd = random.Random(args.seed)
    fa, fb = open_tun(args.a), open_tun(args.b)
    peer = {fa: fb, fb: fa}
    # Per direction: a heap of (release time, order, packet); release times never decrease within one
    # direction, so jitter delays packets without reordering them (as most real paths behave).
    queues = {fa: [], fb: []}
    last_release = {fa: 0.0, fb: 0.0}
    order = 0
    counts = {"forwarded": 0, "dropped": 0, "overflow": 0}

    def stop(*_):
        print(json.dumps(counts), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        due = [q[0][0] for q in queues.values() if q]
        timeout = max(0.0, min(due) - now) if due else 1.0
        readable, _, _ = select.select([fa, fb], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                dest = peer[fd]
                if rnd.random() < args.loss:
                    counts["dropped"] += 1
                    continue
                if len(queues[dest]) >= MAX_QUEUED:
                    counts["overflow"] += 1
                    continue
                delay = args.delay_ms + rnd.uniform(-args.jitter_ms, args.jitter_ms)
                release = max(now + max(0.0, delay) / 1000.0, last_release[dest])
                last_release[dest] = release
                order += 1
                heapq.heappush(queues[dest], (release, order, pkt))
        now = time.monotonic()
        for dest, q in queues.items():
            while q and q[0][0] <= now:
                _, _, pkt = heapq.heappop(q)
                try:
                    os.write(dest, pkt)
                    counts["forwarded"] += 1
                except OSError:
                    counts["dropped"] += 1


if __name__ == "__main__":
    main()
