"""Scale-out figures: ingest throughput with 1 and 2 RQ workers on the Redis store.

    python benchmarks/scale.py [--data ../shared/data] [--feeds 24] [--per-feed 100] [--hosts 6]

Feeds of real Dân trí articles are served from several loopback addresses (127.0.0.2,
127.0.0.3, ... so the one-request-per-host rule does not serialise everything), registered as
sources in a fresh Redis store (127.0.0.1:6379, a private key prefix deleted afterwards), queued
with `quantam poll --enqueue --force`, and polled by `quantam worker --burst` with 1 and with 2
processes; articles stored per second, wall clock from the workers' start to their exit (worker
start-up included).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
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


def ingest_run(urls: list[str], processes: int) -> tuple[float, int]:
    """Seconds for `processes` RQ workers to poll every source, and the articles stored."""
    from store.redis import RedisStore

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
        return seconds, store.count_articles()
    finally:
        store.destroy()
        store.close()


def ingest_benchmark(data: Path, feeds: int, per_feed: int, hosts: int) -> list[tuple]:
    articles = dantri(data)
    bodies = [
        feed_bytes(articles[n * per_feed : (n + 1) * per_feed], f"Dân trí {n}")
        for n in range(feeds)
    ]
    servers = FeedHosts(bodies, hosts)
    try:
        return [(p, *ingest_run(servers.urls, p)) for p in (1, 2)]
    finally:
        servers.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--feeds", type=int, default=24)
    parser.add_argument("--per-feed", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=6)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    rows = ingest_benchmark(args.data, args.feeds, args.per_feed, args.hosts)
    base = rows[0][2] / rows[0][1]
    print(f"{'RQ workers':>10} {'seconds':>8} {'articles':>8} {'articles/s':>10} {'ratio':>6}")
    for processes, seconds, stored in rows:
        rate = stored / seconds
        print(f"{processes:>10} {seconds:>8.1f} {stored:>8} {rate:>10.1f} {rate / base:>5.2f}x")


if __name__ == "__main__":
    main()
