"""Scale-out figures: related-endpoint throughput with 1 and 4 gunicorn workers on the Redis
store against the SQLite store, and ingest throughput with 1 and 2 RQ workers.

    python benchmarks/scale.py [--data ../shared/data] [--only http,ingest] [--reuse]

HTTP: the 10k-article store of benchmarks/serve.py (real VNTC articles, 20-item related lists;
built once, reused with --reuse) is copied into a fresh Redis prefix with `quantam migrate`.
Four gunicorn servers run side by side ({SQLite, Redis} x {1, 4} sync workers, the production
settings of serve.py) and wrk drives `/api/articles/<id>/related` on each, cycling over 10,000
ids (more than a worker's render cache holds, so nearly every answer is built from the store).
Each server is first warmed up for --warmup seconds (default 10: a worker's teaser and render
caches fill from its share of the requests, so four workers need four times the requests one
does; a short warm-up measures cold caches and favours one worker). Every round measures the
four in turn, and the ratios are taken within a round, then the median over rounds: the
machine's load drifts. Goals: 4 workers on Redis >= 1.6x 1 worker on Redis,
and Redis >= 0.8x SQLite at 1 worker.

Ingest: a fresh Redis store (127.0.0.1:6379, a private key prefix deleted afterwards) first
holds the Dân trí articles not polled below, ingested once (which fits the related-stories
model), as a running newsroom's store does. Feeds of the other real Dân trí articles are served
from several loopback addresses (127.0.0.2, 127.0.0.3, ... so the one-request-per-host rule does
not serialise everything), registered as sources, queued with `quantam poll --enqueue --force`
and polled by `quantam worker --burst` with 1 and with 2 processes; new articles stored per
second, wall clock from the workers' start to their exit (worker start-up included).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import serve  # noqa: E402  (the serving benchmark's store, gunicorn settings and wrk driver)

from store.redis import RedisStore  # noqa: E402

REDIS = "redis://127.0.0.1:6379/0"


def dantri(data: Path) -> list[dict]:
    with gzip.open(data / "vi-news-dantri" / "articles.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def feed_bytes(articles: list[dict], title: str) -> bytes:
    ET.register_namespace("content", "http://purl.org/rss/1.0/modules/content/")
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = title
    ET.SubElement(channel, "link").text = "https://dantri.com.vn/"
    ET.SubElement(channel, "description").text = "benchmark"
    start = datetime(2021, 5, 1, tzinfo=UTC)
    for n, a in enumerate(articles):
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = a["title"]
        ET.SubElement(item, "link").text = a["url"]
        ET.SubElement(item, "guid", isPermaLink="false").text = a["id"]
        lines = a["text"].split("\n")
        ET.SubElement(item, "description").text = lines[0]
        body = "".join(f"<p>{line}</p>" for line in lines)
        ET.SubElement(item, "{http://purl.org/rss/1.0/modules/content/}encoded").text = body
        ET.SubElement(item, "pubDate").text = format_datetime(start - timedelta(hours=n))
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


class FeedHosts:
    """One tiny HTTP server per loopback address, each serving its share of the feeds."""

    def __init__(self, feeds: list[bytes], hosts: int):
        self.servers: list[ThreadingHTTPServer] = []
        self.urls: list[str] = []
        by_host: list[dict[str, bytes]] = [{} for _ in range(hosts)]
        for n, body in enumerate(feeds):
            by_host[n % hosts][f"/feed{n}.rss"] = body
        for h, routes in enumerate(by_host):

            class Handler(BaseHTTPRequestHandler):
                table = routes

                def do_GET(self) -> None:
                    body = self.table.get(self.path)
                    self.send_response(200 if body else 404)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(len(body or b"")))
                    self.end_headers()
                    self.wfile.write(body or b"")

                def log_message(self, *args: object) -> None:
                    pass

            server = ThreadingHTTPServer((f"127.0.0.{h + 2}", 0), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)
            port = server.server_address[1]
            self.urls += [f"http://127.0.0.{h + 2}:{port}{path}" for path in routes]

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()


def ingest_run(urls: list[str], processes: int, history: Path) -> tuple[float, int]:
    """Seconds for `processes` RQ workers to poll every source, and the articles they stored.

    The store starts as a running newsroom's does: holding earlier articles (`history`, a
    feed file ingested once, which fits the related-stories model), not empty."""
    url = f"{REDIS}?prefix=bench-scale-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "QUANTAM_STORE": url,
        "QUANTAM_ALLOW_PRIVATE_FETCH": "1",
        "QUANTAM_LOG_LEVEL": "WARNING",
        "QUANTAM_POLL_HOST_DELAY": "0",
    }
    store = RedisStore(url)
    try:
        quantam = [sys.executable, "-m", "service"]
        subprocess.run(
            [*quantam, "ingest", str(history), "--category", "history"],
            env=env,
            check=True,
            capture_output=True,
        )
        before = store.count_articles()
        for n, feed in enumerate(urls):
            subprocess.run(
                [*quantam, "sources", "add", feed, "--category", f"c{n % 10}"],
                env=env,
                check=True,
                capture_output=True,
            )
        subprocess.run(
            [*quantam, "poll", "--enqueue", "--force"], env=env, check=True, capture_output=True
        )
        started = time.perf_counter()
        subprocess.run(
            [*quantam, "worker", "--burst", "--processes", str(processes)],
            env=env,
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - started
        return seconds, store.count_articles() - before
    finally:
        store.destroy()
        store.close()


def ingest_benchmark(data: Path, feeds: int, per_feed: int, hosts: int) -> list[tuple]:
    articles = dantri(data)
    bodies = [
        feed_bytes(articles[n * per_feed : (n + 1) * per_feed], f"Dân trí {n}")
        for n in range(feeds)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.rss"
        history.write_bytes(feed_bytes(articles[feeds * per_feed :], "Dân trí, earlier"))
        servers = FeedHosts(bodies, hosts)
        try:
            return [(p, *ingest_run(servers.urls, p, history)) for p in (1, 2)]
        finally:
            servers.stop()


# -- HTTP: 1 and 4 gunicorn workers, SQLite and Redis --------------------------------------------

HTTP_CONFIGS = [("sqlite", 1), ("redis", 1), ("sqlite", 4), ("redis", 4)]
HTTP_GOAL_WORKERS = 1.6
HTTP_GOAL_REDIS = 0.8


def http_benchmark(opts: argparse.Namespace) -> dict[tuple[str, int], list[serve.Result]]:
    """wrk against the related endpoint of each (store, workers) config, `rounds` times."""
    opts.wrk = serve.tool("wrk")
    db = serve.prepare_store(opts)
    redis_url = f"{REDIS}?prefix=bench-scale-http-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "service",
            "migrate",
            "--from",
            f"sqlite:///{db}",
            "--to",
            redis_url,
        ],
        check=True,
        capture_output=True,
    )
    print(f"copied the store into Redis in {time.perf_counter() - started:.0f} s")
    urls = {"sqlite": f"sqlite:///{db}", "redis": redis_url}
    work = Path(tempfile.mkdtemp(prefix="quantam-scale-"))
    servers = serve.Servers()
    try:
        ids = [article_id for article_id, _ in serve.article_sample(db, opts.ids)]
        requests = work / "related.requests"
        requests.write_text("".join(f"/api/articles/{i}/related\t\n" for i in ids), "utf-8")
        script = work / "cycle.lua"
        script.write_text(serve.WRK_SCRIPT, encoding="utf-8")
        runs: dict[tuple[str, int], serve.Run] = {}
        for backend, workers in HTTP_CONFIGS:
            port = serve.free_port()
            metrics = work / f"metrics-{backend}-{workers}"
            metrics.mkdir()
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "QUANTAM_STORE": urls[backend],
                "QUANTAM_BASE_URL": f"http://127.0.0.1:{port}",
                "QUANTAM_LOG_LEVEL": "WARNING",
                "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            }
            settings = argparse.Namespace(workers=workers, worker_class="sync", threads=1)
            args = serve.gunicorn_args("service.app:create_app()", port, settings)
            pid = servers.start(args, env, work / f"{backend}-{workers}.log")
            serve.wait_ready(port, "/healthz", servers)
            runs[(backend, workers)] = (port, requests, pid)
        for run in runs.values():
            serve.wrk(run, script, opts, opts.warmup)
        results: dict[tuple[str, int], list[serve.Result]] = {key: [] for key in runs}
        for _ in range(opts.rounds):
            for key, run in runs.items():
                results[key].append(serve.wrk(run, script, opts, opts.duration))
        return results
    finally:
        servers.stop()
        shutil.rmtree(work, ignore_errors=True)
        store = RedisStore(redis_url)
        store.destroy()
        store.close()


def http_report(
    results: dict[tuple[str, int], list[serve.Result]], opts: argparse.Namespace
) -> None:
    def ratio(a: tuple[str, int], b: tuple[str, int]) -> float:
        return statistics.median(x.rps / y.rps for x, y in zip(results[a], results[b], strict=True))

    print(
        f"related endpoint, {opts.ids} ids cycled; wrk 1 thread, {opts.connections} connections, "
        f"{opts.duration} s x {opts.rounds} rounds (medians); load average {serve.load_average()}"
    )
    print(f"{'store':<8} {'workers':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'cpu us':>7}")
    for backend, workers in HTTP_CONFIGS:
        r = serve.median_result(results[(backend, workers)])
        print(
            f"{backend:<8} {workers:>7} {r.rps:>7,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            f"{r.cpu_us:>7,.0f}"
        )
    checks = [
        ("Redis, 4 workers / 1 worker", ratio(("redis", 4), ("redis", 1)), HTTP_GOAL_WORKERS),
        ("Redis / SQLite, 1 worker", ratio(("redis", 1), ("sqlite", 1)), HTTP_GOAL_REDIS),
        ("SQLite, 4 workers / 1 worker", ratio(("sqlite", 4), ("sqlite", 1)), None),
        ("Redis / SQLite, 4 workers", ratio(("redis", 4), ("sqlite", 4)), None),
    ]
    for label, value, goal in checks:
        verdict = (
            "" if goal is None else f"  goal >= {goal}: {'met' if value >= goal else 'MISSED'}"
        )
        print(f"{label:<30} {value:5.2f}x{verdict}")


def ingest_report(rows: list[tuple]) -> None:
    base = rows[0][2] / rows[0][1]
    print(f"{'RQ workers':>10} {'seconds':>8} {'articles':>8} {'articles/s':>10} {'ratio':>6}")
    for processes, seconds, stored in rows:
        rate = stored / seconds
        print(f"{processes:>10} {seconds:>8.1f} {stored:>8} {rate:>10.1f} {rate / base:>5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default={"http", "ingest"},
        help="comma-separated parts: http, ingest",
    )
    parser.add_argument("--feeds", type=int, default=12, help="ingest: feeds polled")
    parser.add_argument("--per-feed", type=int, default=100, help="ingest: articles per feed")
    parser.add_argument("--hosts", type=int, default=6, help="ingest: loopback feed hosts")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "quantam-serve-bench",
        help="http: where serve.py's store is built (shared with benchmarks/serve.py)",
    )
    parser.add_argument("--reuse", action="store_true", help="http: reuse a store built before")
    parser.add_argument("--articles", type=int, default=10_000, help="http: articles stored")
    parser.add_argument("--ids", type=int, default=10_000, help="http: article ids to cycle over")
    parser.add_argument("--connections", type=int, default=32, help="http: wrk connections")
    parser.add_argument("--duration", type=int, default=3, help="http: seconds per measured run")
    parser.add_argument(
        "--warmup", type=int, default=10, help="http: seconds of warm-up per server"
    )
    parser.add_argument("--rounds", type=int, default=5, help="http: measured rounds")
    args = parser.parse_args()
    unknown = args.only - {"http", "ingest"}
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    print(f"load average: {serve.load_average()}")
    if "http" in args.only:
        http_report(http_benchmark(args), args)
    if "ingest" in args.only:
        ingest_report(ingest_benchmark(args.data, args.feeds, args.per_feed, args.hosts))


if __name__ == "__main__":
    main()
