"""Where one loaded gunicorn worker spends its time, for one serve.py target.

    python benchmarks/profile_worker.py --workdir DIR --target events [--seconds 10]
        [--under post_events --under Flask.wsgi_app]

Serves the store `benchmarks/serve.py --workdir DIR` built (run it once first) under the same
gunicorn settings, drives the target with wrk as serve.py does, and samples one worker with
py-spy (`pip install py-spy`; a profiler, not a dependency of quantam) at 500 Hz. Prints each
function's share of the worker's samples, inclusive of what it calls, and for every `--under`
prefix the share of each function called directly under it. In-process timings miss what a
loaded worker pays (cold caches, the other workers and wrk on the same cores): a beacon's
`Response` cost 3.7 µs in a loop and 3.5 % of a loaded worker's samples
(docs/benchmarks/serve-box.md).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serve import (
    FLOORS,
    TARGETS,
    WRK_SCRIPT,
    Servers,
    article_sample,
    beacons,
    categories,
    free_port,
    gunicorn_args,
    server_env,
    target_specs,
    tool,
    wait_ready,
)

# serve.py's targets but those that send an answer's ETag back (serve.py fetches the answers
# first) and the floors (another app).
PROFILED = tuple(t for t in TARGETS if t != "rss-etag" and t not in FLOORS)
RATE = 500  # samples a second
SAMPLE = 10_000


def request_lines(target: str, db: Path) -> list[str]:
    """wrk's request file for a target, as serve.py writes it (without nginx's copies)."""
    pairs = article_sample(db, SAMPLE)
    if target == "events":
        return beacons(pairs, 1000)
    paths, _, _, unique = target_specs(pairs, categories(db), SAMPLE)[target]
    return [f"{path}\t\tunique" if unique else f"{path}\t" for path in paths]


def frames(stack: str) -> list[str]:
    """py-spy's raw frames without line numbers: `function (file)`."""
    return [re.sub(r" \((.*?):\d+\)", r" (\1)", f) for f in stack.split(";")]


def shares(profile: Path, under: list[str], top: int) -> str:
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    below = {prefix: collections.Counter[str]() for prefix in under}
    for line in profile.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        stack_frames = frames(stack)
        inclusive.update({f: n for f in dict.fromkeys(stack_frames)})
        for prefix, counter in below.items():
            for i, f in enumerate(stack_frames):
                if f.startswith(prefix):
                    counter[stack_frames[i + 1] if i + 1 < len(stack_frames) else "<self>"] += n
                    break
    # The trunk (gunicorn's start-up frames, in every sample of the main thread) says nothing.
    trunk = max(inclusive.values(), default=0)
    ranked = [(f, n) for f, n in inclusive.most_common() if n < 0.99 * trunk][:top]
    out = [f"{total} samples of one worker; share inclusive of callees, below the trunk:"]
    out += [f"{100 * n / total:6.2f} %  {f}" for f, n in ranked]
    for prefix, counter in below.items():
        out.append(f"\ndirectly under {prefix}:")
        out += [f"{100 * n / total:6.2f} %  {f}" for f, n in counter.most_common(top)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="serve.py's --workdir")
    parser.add_argument("--target", choices=PROFILED, default="events")
    parser.add_argument("--seconds", type=int, default=10, help="seconds sampled")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--under", action="append", default=[], help="a function name prefix")
    opts = parser.parse_args()
    opts.worker_class, opts.threads = "sync", 1
    db = opts.workdir / "quantam.db"
    if not db.exists():
        raise SystemExit(f"no store at {db}: run benchmarks/serve.py --workdir {opts.workdir}")
    wrk = tool("wrk")
    # pip installs it beside this Python, which need not be on PATH
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    work = Path(tempfile.mkdtemp(prefix="quantam-profile-"))
    (work / "metrics").mkdir()
    requests = work / "target.requests"
    requests.write_text("\n".join(request_lines(opts.target, db)) + "\n", encoding="utf-8")
    script = work / "cycle.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    port, servers = free_port(), Servers()
    try:
        args = gunicorn_args("service.app:create_app()", port, opts)
        master = servers.start(args, server_env(db, port, work), work / "gunicorn.log")
        wait_ready(port, "/healthz", servers)

        def drive(seconds: int) -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [wrk, "--threads", "1", "--connections", str(opts.connections), "--duration",
                 f"{seconds}s", "--script", str(script), f"http://127.0.0.1:{port}", "--",
                 str(requests)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip

        drive(3).wait()  # warm-up: each worker's caches and remembered ids fill
        with open(f"/proc/{master}/task/{master}/children", encoding="ascii") as fh:
            worker = fh.read().split()[0]
        load = drive(opts.seconds + 2)
        time.sleep(1)
        profile = work / "profile.txt"
        subprocess.run(
            [py_spy, "record", "-p", worker, "-d", str(opts.seconds), "-r", str(RATE),
             "-f", "raw", "-o", str(profile)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        load.wait()
    finally:
        servers.stop()
    print(f"target {opts.target}, {opts.workers} sync workers, profile in {profile}")
    print(shares(profile, opts.under, opts.top))


if __name__ == "__main__":
    main()
