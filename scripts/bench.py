"""The measurements behind scripts/bench. Every figure is a median over repeated runs, and the
ratios are computed from figures taken in the same run. Memory is each process's peak resident
set (as GNU time reports it) or, for the long-running worker, its resident set now (VmRSS)."""

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MiB = 1024 * 1024
GNU_TIME = "/usr/bin/time"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, env, check=True):
    """Runs a process to its end; returns (seconds, peak RSS in bytes, stdout).

    The peak comes from GNU time, which forks the process from its own small image: a child
    of this Python process would carry Python's resident set into its peak (Linux counts the
    image a process had before exec), hiding any figure below Python's own."""
    with tempfile.NamedTemporaryFile(mode="r") as peak:
        began = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-f", "%M", "-o", peak.name, *argv], env=env,
                              capture_output=True)
        seconds = time.perf_counter() - began
        if check and proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode()}")
        return seconds, int(peak.read().split()[-1]) * 1024, proc.stdout.decode()


def median_of(runs, argv, env):
    samples = [run(argv, env) for _ in range(runs)]
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))


class Worker:
    """A `cart worker` process, its CPU time and resident set read from /proc."""

    def __init__(self, cart, env, extra=()):
        self.proc = subprocess.Popen([cart, "worker", *extra], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        line = b""
        while b"cart worker started" not in line:
            line = self.proc.stderr.readline()
            if not line or time.time() > deadline:
                sys.exit("the worker did not start")
        # Keep draining its log so it never blocks on a full pipe.
        import threading
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def cpu_seconds(self):
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def settled_rss(self):
        """The resident set once it has stopped moving (allocators return memory lazily)."""
        time.sleep(2)
        return self.rss()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def load(args, env, *words):
    _, _, out = run([args.load, *map(str, words)], env)
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--temporal", required=True)
    p.add_argument("--cart", required=True)
    p.add_argument("--load", required=True)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default="cli,load,open,hot,signals",
                   help="the parts to run, comma-separated: cli, load, open, hot, signals")
    args = p.parse_args()
    parts = set(args.only.split(","))
    if not os.access(GNU_TIME, os.X_OK):
        sys.exit(f"{GNU_TIME} (GNU time) measures peak memory: install it (Debian: apt-get install time)")
    many = 2_000 if args.quick else 10_000

    work = tempfile.mkdtemp(prefix="cart-bench-")
    port = free_port()
    address = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [args.temporal, "server", "start-dev", "--headless", "--port", str(port),
         "--log-level", "error", "--db-filename", "",
         # The carts' search attributes, as scripts/dev-server and a set-up cluster have them:
         # every change then also updates them, as in production.
         "--search-attribute", "CartStatus=Keyword", "--search-attribute", "CartItems=Int",
         "--search-attribute", "CartTotal=Int", "--search-attribute", "CartUpdatedAt=Datetime"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        env = {"PATH": os.environ["PATH"], "HOME": work, "TEMPORAL_ADDRESS": address,
               "CART_DATA_DIR": work, "NO_COLOR": "1"}
        deadline = time.time() + 60
        while run([args.temporal, "operator", "cluster", "health", "--address", address],
                  env, check=False)[2].find("SERVING") < 0:
            if time.time() > deadline:
                sys.exit("the dev server did not start")
            time.sleep(0.5)

        def queue_env(queue):
            return {**env, "CART_TASK_QUEUE": queue}

        # 1. Whole processes: cart against the temporal CLI, one cart, the same calls.
        if "cli" in parts:
            cli_part(args, queue_env, address, rows)

        # 2. The worker: idle, then under many carts × many changes.
        if "load" in parts:
            qenv = queue_env("bench-load")
            worker = Worker(args.cart, qenv)
            idle = worker.settled_rss()
            carts, changes = (20, 20) if args.quick else (50, 40)
            cpu = worker.cpu_seconds()
            done = load(args, qenv, "carts", carts, changes, 16, "events")
            per_change = (worker.cpu_seconds() - cpu) / done["changes"]
            loaded = worker.settled_rss()
            worker.stop()
            rows.append(("`cart worker`, idle", mib(idle)))
            rows.append((f"worker under {carts} carts × {changes} changes",
                         f"{per_change * 1000:.2f} ms CPU and "
                         f"{done['events'] / done['changes']:.1f} history events per change, "
                         f"{mib(loaded)}"))

        # 3. Open carts on one worker, one line each: with the default cache, and with every
        #    cart in the cache.
        if "open" in parts:
            for name, queue, extra in (
                    ("the default cache (1,000 carts)", "bench-open", []),
                    (f"all {many:,} carts in the cache", "bench-cached",
                     ["--max-cached-carts", str(many)])):
                qenv = queue_env(queue)
                worker = Worker(args.cart, qenv, extra)
                load(args, qenv, "carts", 1_000, 1, 32)
                at_1k = worker.settled_rss()
                load(args, qenv, "carts", many - 1_000, 1, 32)
                at_many = worker.settled_rss()
                worker.stop()
                per_cart = (at_many - at_1k) / (many - 1_000)
                rows.append((f"worker, 1,000 → {many:,} open carts, {name}",
                             f"{mib(at_1k)} → {mib(at_many)}, {per_cart / 1024:.1f} KiB per "
                             "cart beyond the first 1,000"))

        # 4. One hot cart, through several continue-as-new runs: updates, then the tutorial's
        #    signals (which the cart applies in order, an add waiting for its price holding
        #    back the changes behind it).
        for part, what, count in (("hot", "changes", 6_000), ("signals", "tutorial signals", 3_000)):
            if part not in parts:
                continue
            qenv = queue_env(f"bench-{part}")
            worker = Worker(args.cart, qenv)
            count = 1_000 if args.quick else count
            cpu = worker.cpu_seconds()
            hot = load(args, qenv, part, count, 8)
            per_change = (worker.cpu_seconds() - cpu) / hot["changes"]
            worker.stop()
            rows.append((f"one hot cart, {hot['changes']:,} {what}, 8 at a time",
                         f"{hot['changes'] / hot['seconds']:.0f} changes/s, "
                         f"{per_change * 1000:.2f} ms CPU and "
                         f"{hot['events'] / hot['changes']:.1f} history events per change, "
                         f"{hot['runs']} runs (continue-as-new)"))
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.system()} {platform.release()}; medians of {args.runs} runs.\n")
    print("| measured | `cart` | the comparison | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |" + " |" * (4 - len(row)))


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def mib(size):
    return f"{size / MiB:.1f} MiB"


def cli_part(args, queue_env, address, rows):
    """`cart show`, `cart add` and `cart --version` beside the `temporal` CLI."""
    qenv = queue_env("bench-cli")
    worker = Worker(args.cart, qenv)
    run([args.cart, "add", "CART-bench", "--product", "0"], qenv)
    show = median_of(args.runs, [args.cart, "show", "CART-bench"], qenv)
    query = median_of(args.runs, [args.temporal, "workflow", "query", "--address", address,
                                  "-w", "CART-bench", "--name", "get_cart"], qenv)
    add = median_of(args.runs, [args.cart, "add", "CART-bench", "--product", "1"], qenv)
    update = median_of(args.runs, [
        args.temporal, "workflow", "update", "execute", "--address", address,
        "-w", "CART-bench", "--name", "add_item",
        "--input", '{"product_id": 2, "quantity": 1}'], qenv)
    start = median_of(args.runs, [args.cart, "--version"], qenv)
    for name, ours, theirs, what in (
            ("`cart show`, whole process", show, query, "`temporal workflow query`"),
            ("`cart add`, whole process", add, update, "`temporal workflow update execute`")):
        rows.append((name, f"{ms(ours[0])}, {mib(ours[1])}",
                     f"{what}: {ms(theirs[0])}, {mib(theirs[1])}",
                     f"{ours[0] / theirs[0]:.2f}×, {ours[1] / theirs[1]:.2f}×"))
    rows.append(("`cart --version` (start-up)", f"{ms(start[0])}, {mib(start[1])}"))
    worker.stop()


if __name__ == "__main__":
    main()
