"""HTTP serving throughput: quantam's read endpoints against a trivial Flask app and nginx.

    python benchmarks/serve.py [--data ../shared/data] [--reuse] [--workers N] [--duration 2]

Builds a SQLite store of 10k real VNTC articles (DATA/vi-news/articles.jsonl.gz, 1,000 per
category, ingested as one RSS feed per category through `Ingestor.ingest_bytes`) with a 20-item
related list per article, then serves it with gunicorn on 127.0.0.1 (`service.app:create_app()`,
production settings: no access log, Prometheus multiprocess mode). Under the same gunicorn
settings it serves `trivial_app()` below (one endpoint, a small constant JSON: the framework's
ceiling), and nginx serves the very bytes quantam answered, fetched once and written as static
files (the outer bound). wrk drives every target alike: one thread, fixed connections, fixed
duration, `Accept-Encoding: gzip`, cycling over 10,000 article ids or URLs. Each target is
warmed up first (--warmup seconds), so each worker's response cache (service/http/response_cache.py)
holds what it will be asked again, as between two ingests in production; one target draws the
ids by popularity (Zipf's law, as real traffic), and one makes every request unique (an
Accept-Encoding of its own: gzip and a made-up coding), so no cache answers it and every answer
is built: the cost right after an ingest, when the caches have just been dropped. The box's
targets: `/api/box` by page URL (the embed's one request), the most-read endpoint over every
category (clicks and impressions seeded this hour), and `POST /api/events` beacons of six
impressions, each from a reader of its own so every event is counted (no nginx row: a POST has
no file to serve).

With --mix it measures instead what an aggregator's readers see while news arrives: reads by id
and by URL (half each, ids drawn by popularity, Zipf's law) while one new VNTC article (one not
in the store) is pushed every --push-every seconds through the write API, which stores it, adds
it to the older lists where it ranks (the model is fitted once, `quantam reindex`, on a copy of
the store) and so drops the cached answers that read what changed. Goal: req/s at least 0.7 of
trivial Flask's and p99 at most 3 times its p99, both from runs beside each other.

Prints one table: req/s, p50 and p99 latency, mean response bytes, gunicorn's CPU per request,
the ratio to the trivial Flask endpoint (each run against the two trivial runs beside it, median
over rounds) and nginx's figures for the same bytes. Goal: every quantam endpoint reaches at
least 0.7 of the trivial endpoint's req/s. Needs `wrk` and `nginx` (Debian packages; benchmark
only, not dependencies of quantam). docs/benchmarks/serve.md has the method and the figures.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, jsonify

from feeds.ingest.pipeline import Ingestor
from feeds.ingest.text import slugify
from store.models import EventCount, RelatedItem
from store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent

TRIVIAL_PATH = "/ping"
RELATED_ITEMS = 20
# VNTC's topics; each has at least 3,598 articles.
VNTC_CATEGORIES = 10
GOAL = 0.7
# Parallel fetches while mirroring quantam's answers for nginx.
FETCHERS = 8
BUILT_MARK = "benchmark:serve:built"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
MEDIA_NS = "http://search.yahoo.com/mrss/"

WRK_SCRIPT = r"""
-- Cycles over the requests in the file given after `--`: one per line, "path<TAB>etag", or
-- "path<TAB><TAB>unique" for a request made unique, and so never answered from a cache, by an
-- Accept-Encoding of its own (gzip plus a made-up coding, which servers ignore), or
-- "path<TAB><TAB>post<TAB>body" for a beacon: a POST of that text/plain body from a reader of
-- its own (a browser's user agent made unique), so that every event is counted.
local requests, unique, posts = {}, {}, {}
local n, made, run = 0, 0, 0
function init(args)
  math.randomseed(os.time())
  for line in io.lines(args[1]) do
    local path, etag, flag = line:match("^([^\t]*)\t?([^\t]*)\t?(.*)$")
    local headers = {["Accept-Encoding"] = "gzip"}
    if etag ~= "" then headers["If-None-Match"] = etag end
    local kind, body = flag:match("^([^\t]*)\t?(.*)$")
    if kind == "post" then
      posts[#requests + 1] = {path, body}
      requests[#requests + 1] = false
    elseif flag == "unique" then
      unique[#requests + 1] = {path, headers}
      requests[#requests + 1] = false
    else
      requests[#requests + 1] = wrk.format("GET", path, headers)
    end
  end
  n = math.random(#requests) - 1
  run = math.random(1000000000)
end
function request()
  n = n % #requests + 1
  if requests[n] then return requests[n] end
  made = made + 1
  if posts[n] then
    return wrk.format("POST", posts[n][1], {
      ["Content-Type"] = "text/plain;charset=UTF-8",
      ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 r" .. run .. "-" .. made,
    }, posts[n][2])
  end
  local headers = {["Accept-Encoding"] = "gzip, x-unique-" .. run .. "-" .. made}
  return wrk.format("GET", unique[n][1], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def trivial_app() -> Any:
    """The framework's ceiling: Flask answering one small constant JSON, nothing else."""
    app = Flask("trivial")

    @app.get(TRIVIAL_PATH)
    def ping() -> Any:
        return jsonify(status="ok", service="quantam")

    return app


def floor_app() -> Any:
    """quantam's app with two routes more, served instead of it when a floor target is asked:
    what an answer built through Flask costs before its own work. `/floor/<id>` answers the
    trivial app's constant through the API's answer path (`cached_json`: encoding, entity tag,
    caching headers, offered to the response cache); `/floor/reads/<id>` first makes the reads
    a related answer makes (the store's version, the article's teaser, its list with its
    editors' overrides, the shown stories' teasers through the teaser cache)."""
    # Imported here: the trivial app's workers import this module too, and must not load
    # quantam (a larger heap would make the baseline slower).
    from service.app import create_app
    from service.http.caching import cached_json, get_teasers

    app = create_app()
    store = app.extensions["quantam"].store

    def constant() -> dict[str, str]:
        return {"status": "ok", "service": "quantam"}

    @app.get("/floor/<article_id>")
    def floor(article_id: str) -> Any:
        return cached_json(constant)

    @app.get("/floor/reads/<article_id>")
    def floor_reads(article_id: str) -> Any:
        get_teasers([article_id])
        stored, _, _ = store.related_as_edited(article_id)
        get_teasers([i.article_id for i in (stored or [])[:8]])
        return cached_json(constant)

    return app


# -- the store ---------------------------------------------------------------------------------


def _host(record: dict[str, Any]) -> str:
    source = record.get("source", "")
    return source.rsplit("(", 1)[-1].rstrip(")") if "(" in source else "vntc.example"


def category_feeds(data: Path, per_category: int) -> Iterator[tuple[str, str, bytes]]:
    """(slug, Vietnamese name, RSS bytes) for each VNTC category, its first `per_category`
    articles as items. VNTC has no URLs or dates: each gets a URL on its paper's host and a
    publication time a few minutes before the previous one, so feeds page like a live site's."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    with gzip.open(data / "vi-news" / "articles.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            bucket = by_category.setdefault(record["category"], [])
            if len(bucket) < per_category:
                bucket.append(record)
    ET.register_namespace("content", CONTENT_NS)
    ET.register_namespace("media", MEDIA_NS)
    start = datetime(2024, 6, 1, 12, tzinfo=UTC)
    for name, records in sorted(by_category.items()):
        slug = slugify(name)
        root = ET.Element("rss", version="2.0")
        channel = ET.SubElement(root, "channel")
        ET.SubElement(channel, "title").text = records[0]["category_vi"]
        ET.SubElement(channel, "link").text = f"https://{_host(records[0])}/{slug}/"
        ET.SubElement(channel, "description").text = records[0]["category_vi"]
        for n, record in enumerate(records):
            host = _host(record)
            url = f"https://{host}/{slug}/{record['id'].lower()}.html"
            item = ET.SubElement(channel, "item")
            if record["title"]:  # else quantam titles it from the lead, as for any feed
                ET.SubElement(item, "title").text = record["title"]
            ET.SubElement(item, "link").text = url
            ET.SubElement(item, "guid", isPermaLink="true").text = url
            paragraphs = [p for p in record["text"].split("\n") if p.strip()]
            ET.SubElement(item, "description").text = paragraphs[0] if paragraphs else ""
            body = "".join(f"<p>{p}</p>" for p in paragraphs)
            ET.SubElement(item, f"{{{CONTENT_NS}}}encoded").text = body
            ET.SubElement(
                item, f"{{{MEDIA_NS}}}content", url=f"https://{host}/images/{n}.jpg", medium="image"
            )
            published = start - timedelta(minutes=7 * n + len(slug))
            ET.SubElement(item, "pubDate").text = format_datetime(published, usegmt=True)
        body = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
        yield slug, records[0]["category_vi"], body


def related_lists(
    ids_by_category: dict[str, list[str]], titles: dict[str, str]
) -> dict[str, list[RelatedItem]]:
    """Per article, RELATED_ITEMS others from its category with falling scores and a reason:
    the shape and size the recommender writes, so the endpoints read what they will in use."""
    rng = random.Random(4)
    lists: dict[str, list[RelatedItem]] = {}
    for ids in ids_by_category.values():
        for article_id in ids:
            picks = rng.sample([i for i in ids if i != article_id], RELATED_ITEMS)
            words = [w for w in titles[article_id].lower().split() if len(w) > 2]
            score = 0.6 + 0.3 * rng.random()
            lists[article_id] = []
            for pick in picks:
                reason = tuple(rng.sample(words, min(3, len(words))))
                lists[article_id].append(RelatedItem(pick, round(score, 4), reason=reason))
                score *= 0.9 + 0.08 * rng.random()
    return lists


def build_store(path: Path, data: Path, articles: int) -> None:
    """Ingest the category feeds (articles / 10 each) and store the related lists; written
    beside `path`, then moved into place, so an interrupted build is never reused."""
    partial = path.with_suffix(".partial")
    for stale in path.parent.glob(partial.name + "*"):
        stale.unlink()
    store = SQLiteStore(f"sqlite:///{partial}")
    ingestor = Ingestor(store)
    ids_by_category: dict[str, list[str]] = {}
    for slug, name, body in category_feeds(data, articles // VNTC_CATEGORIES):
        ingestor.ensure_category(slug, name)
        report = ingestor.ingest_bytes(body, target=f"{slug}.rss", category=slug)
        if not report.ok or report.skipped:
            raise SystemExit(f"ingesting {slug}: {report.summary()}")
        ids_by_category[slug] = report.new
    titles = {a.id: a.title for a in store.iter_articles()}
    store.put_related(related_lists(ids_by_category, titles))
    store.set_meta(BUILT_MARK, str(articles).encode())
    # close() joins the checkpoint thread, so this was the last connection: SQLite has folded
    # the log into the file and removed it. Deleting a live log by hand (as this did) broke the
    # next open ("disk I/O error").
    store.close()
    leftover = [f"{partial}{s}" for s in ("-wal", "-shm") if Path(f"{partial}{s}").exists()]
    if leftover:
        raise SystemExit(f"the built store is still open: {', '.join(leftover)} remain")
    partial.rename(path)


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Servers:
    """Every process the run started, stopped together (by pid) when it ends."""

    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, args: list[str], env: dict[str, str], log: Path) -> int:
        with log.open("wb") as out:
            self.procs.append(subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT))
        return self.procs[-1].pid

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def gunicorn_args(app: str, port: int, opts: argparse.Namespace) -> list[str]:
    """The one set of gunicorn settings both Flask apps run under. `--chdir` to this checkout:
    gunicorn puts its working directory first on sys.path, so a checkout of older code run from
    another directory would otherwise serve that directory's code."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(ROOT),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(opts.workers),
        "--worker-class",
        opts.worker_class,
        "--threads",
        str(opts.threads),
        "--backlog",
        "2048",
        app,
    ]


def server_env(db: Path, port: int, work: Path, **extra: str) -> dict[str, str]:
    """The environment both gunicorn servers run in (production settings, quiet logs)."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]),
        "QUANTAM_STORE": f"sqlite:///{db}",
        "QUANTAM_BASE_URL": f"http://127.0.0.1:{port}",
        "QUANTAM_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
        **extra,
    }


def nginx_conf(root: Path, port: int, workers: int) -> str:
    return f"""
worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ application/json json; application/rss+xml rss; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        gzip_static on;
    }}
}}
"""


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def wait_ready(
    port: int, path: str, servers: Servers, seconds: float = 60, expect: tuple[int, ...] = (200,)
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in servers.procs):
            raise SystemExit("a server exited while starting: see the logs in the work dir")
        try:
            if get(port, path).status in expect:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"nothing answered on 127.0.0.1:{port}{path} within {seconds:.0f} s")


# -- targets -----------------------------------------------------------------------------------


@dataclass
class Target:
    """One endpoint as wrk will request it: the request file, and nginx's copy of its bytes."""

    name: str
    requests: Path
    static_requests: Path


def target_specs(
    pairs: list[tuple[str, str]], slugs: list[str], ids: int
) -> dict[str, tuple[list[str], bool, str, bool]]:
    """Each GET target's paths, whether it sends each answer's ETag back (If-None-Match), the
    extension of nginx's copies, and whether each request is made unique (no cache answers it).
    profile_worker.py drives the same targets."""
    feed_paths = [f"/feeds/{slug}.rss" for slug in slugs]
    related_paths = [f"/api/articles/{i}/related" for i, _ in pairs]
    by_url = dict(pairs)
    return {
        "related": (related_paths, False, "json", False),
        "related-by-url": (
            [f"/api/related?url={quote(u, safe='')}" for _, u in pairs],
            False,
            "json",
            False,
        ),
        "related-popular": (
            [f"/api/articles/{i}/related" for i in popular(pairs, ids)],
            False,
            "json",
            False,
        ),
        "related-built": (related_paths, False, "json", True),
        "floor": ([f"/floor/{i}" for i, _ in pairs], False, "json", True),
        "floor-reads": ([f"/floor/reads/{i}" for i, _ in pairs], False, "json", True),
        "rss": (feed_paths, False, "rss", False),
        "rss-etag": (feed_paths, True, "rss", False),
        "box": (
            [f"/api/box?url={quote(u, safe='')}&boxes=related:6" for _, u in pairs],
            False,
            "json",
            False,
        ),
        # Pages read as a news site's are (Zipf): the box is asked by every reader of a page.
        "box-popular": (
            [
                f"/api/box?url={quote(by_url[i], safe='')}&boxes=related:6"
                for i in popular(pairs, ids)
            ],
            False,
            "json",
            False,
        ),
        "popular": (
            [f"/api/categories/{slug}/popular?k={k}" for slug in slugs for k in (5, 6, 10)],
            False,
            "json",
            False,
        ),
    }


def mirror(
    name: str,
    port: int,
    paths: list[str],
    www: Path,
    work: Path,
    conditional: bool,
    ext: str,
    unique: bool = False,
) -> Target:
    """Fetch each path once from quantam; write the answers where nginx serves them; write the
    request files (with If-None-Match set to each answer's ETag when `conditional`; made unique
    per request by wrk when `unique`)."""
    folder = www / name
    folder.mkdir(parents=True, exist_ok=True)

    def fetch(n: int) -> tuple[str, str]:
        path = paths[n]
        response = get(port, path, {"Accept-Encoding": "gzip"})
        body = response.body  # type: ignore[attr-defined]
        if response.status != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status}: {body[:200]!r}")
        static = folder / f"{n}.{ext}"
        if response.getheader("Content-Encoding") == "gzip":
            Path(f"{static}.gz").write_bytes(body)
            body = gzip.decompress(body)
        static.write_bytes(body)
        etag = response.getheader("ETag", "") if conditional else ""
        return f"{path}\t\tunique" if unique else f"{path}\t{etag}", f"/{name}/{n}.{ext}\t"

    with ThreadPoolExecutor(FETCHERS) as pool:
        lines, static_lines = zip(*pool.map(fetch, range(len(paths))), strict=True)
    requests = work / f"{name}.requests"
    requests.write_text("\n".join(lines) + "\n", encoding="utf-8")
    static_requests = work / f"{name}.static-requests"
    static_requests.write_text("\n".join(static_lines) + "\n", encoding="utf-8")
    return Target(name, requests, static_requests)


def nginx_conditional(target: Target, port: int) -> None:
    """Give the nginx request file nginx's own ETags, so nginx answers 304 like quantam."""
    lines = []
    for line in target.static_requests.read_text(encoding="utf-8").splitlines():
        path = line.split("\t")[0]
        response = get(port, path, {"Accept-Encoding": "gzip"})
        etag = response.getheader("ETag", "")
        if get(port, path, {"Accept-Encoding": "gzip", "If-None-Match": etag}).status != 304:
            raise SystemExit(f"nginx does not answer 304 for {path} with ETag {etag}")
        lines.append(f"{path}\t{etag}")
    target.static_requests.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_conditional(target: Target, port: int) -> None:
    """Every request of a conditional target must really be answered 304."""
    for line in target.requests.read_text(encoding="utf-8").splitlines():
        path, etag = line.split("\t")
        status = get(port, path, {"Accept-Encoding": "gzip", "If-None-Match": etag}).status
        if status != 304:
            raise SystemExit(f"GET {path} with If-None-Match {etag}: HTTP {status}, not 304")


# -- load --------------------------------------------------------------------------------------


# A target as wrk drives it: the server's port, the request file, the server's pid.
Run = tuple[int, Path, int]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a server process and its workers."""
    total = 0
    for task in [pid, *_children(pid)]:
        with open(f"/proc/{task}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
        return [int(child) for child in fh.read().split()]


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    bytes_per_response: float
    # CPU the server (master and workers) spent per request, in microseconds.
    cpu_us: float = 0.0


def wrk(run: Run, script: Path, opts: argparse.Namespace, seconds: int) -> Result:
    port, requests, pid = run
    cpu_before = cpu_seconds(pid)
    args = [
        opts.wrk,
        "--threads",
        "1",
        "--connections",
        str(opts.connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        str(requests),
    ]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    if figures["errors"]:
        raise SystemExit(f"wrk saw {figures['errors']} errors against {requests.name}:\n{out}")
    count = max(figures["requests"], 1)
    return Result(
        rps=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        bytes_per_response=figures["bytes"] / count,
        cpu_us=(cpu_seconds(pid) - cpu_before) / count * 1e6,
    )


def median_result(results: list[Result]) -> Result:
    return Result(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        bytes_per_response=statistics.median(r.bytes_per_response for r in results),
        cpu_us=statistics.median(r.cpu_us for r in results),
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


# -- the run -----------------------------------------------------------------------------------


def article_sample(db: Path, count: int) -> list[tuple[str, str]]:
    """(id, url) of `count` stored articles, shuffled so consecutive requests hit different
    categories and rows."""
    store = SQLiteStore(f"sqlite:///{db}")
    pairs = [(a.id, a.url) for a in store.iter_articles()]
    store.close()
    random.Random(4).shuffle(pairs)
    return pairs[:count]


def popular(pairs: list[tuple[str, str]], count: int) -> list[str]:
    """`count` article ids drawn by popularity: Zipf's law (s = 1) over the sample, as a news
    site's traffic falls off from its front-page stories. Shows what a worker's render cache
    buys beside the uniform cycle, which defeats it on purpose."""
    rng = random.Random(5)
    weights = [1 / rank for rank in range(1, len(pairs) + 1)]
    return [article_id for article_id, _ in rng.choices(pairs, weights, k=count)]


def seed_popularity(db: Path, pairs: list[tuple[str, str]]) -> None:
    """Clicks and impressions this hour for Zipf-popular articles, so the popular endpoint
    ranks real counts (a --reuse run adds to them; the ranking's cost is the same)."""
    counts: dict[str, list[int]] = {}
    for article_id in popular(pairs, 20 * len(pairs)):
        pair = counts.setdefault(article_id, [0, 0])
        pair[0] += 1
        pair[1] += random.random() < 0.1
    store = SQLiteStore(f"sqlite:///{db}")
    now = datetime.now(UTC)
    store.add_event_counts(EventCount(a, now, i, c) for a, (i, c) in counts.items())
    store.close()


def beacons(pairs: list[tuple[str, str]], count: int) -> list[str]:
    """`count` beacon request lines: each six impressions from one box, as embed.js sends."""
    rng = random.Random(6)
    lines = []
    for _ in range(count):
        page = rng.choice(pairs)[0]
        events = [
            {"type": "impression", "id": rng.choice(pairs)[0], "from": page, "position": n}
            for n in range(1, 7)
        ]
        lines.append("/api/events\t\tpost\t" + json.dumps({"events": events}))
    return lines


def check_beacon(port: int, line: str) -> None:
    body = line.split("\t", 3)[3]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 Chrome/131.0 check"}
    conn.request("POST", "/api/events", body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    conn.close()
    if response.status != 202 or json.loads(answer)["counted"] != 6:
        raise SystemExit(f"POST /api/events: HTTP {response.status}: {answer[:200]!r}")


def categories(db: Path) -> list[str]:
    store = SQLiteStore(f"sqlite:///{db}")
    slugs = [c.slug for c in store.list_categories()]
    store.close()
    return slugs


def prepare_store(opts: argparse.Namespace) -> Path:
    """The store file: built, or with --reuse the one a previous run built for as many
    articles."""
    opts.workdir.mkdir(parents=True, exist_ok=True)
    db = opts.workdir / "quantam.db"
    if opts.reuse and db.exists():
        store = SQLiteStore(f"sqlite:///{db}")
        built = store.get_meta(BUILT_MARK)
        store.close()
        if built is not None and int(built) == opts.articles:
            print(f"reusing {db}")
            return db
    started = time.perf_counter()
    build_store(db, opts.data, opts.articles)
    print(f"built {db} in {time.perf_counter() - started:.0f} s")
    return db


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise SystemExit(f"{name} is not installed: apt-get install {name}")
    return found


def run(opts: argparse.Namespace) -> None:
    nginx, opts.wrk = tool("nginx"), tool("wrk")
    db = prepare_store(opts)
    pairs = article_sample(db, opts.ids)
    slugs = categories(db)
    seed_popularity(db, pairs)
    work = Path(tempfile.mkdtemp(prefix="quantam-serve-"))
    work.chmod(0o755)  # nginx's workers run as nobody when started by root
    servers = Servers()
    try:
        ports = {"quantam": free_port(), "trivial": free_port(), "nginx": free_port()}
        (work / "metrics").mkdir()
        pids: dict[str, int] = {}
        env = server_env(db, ports["quantam"], work)
        floors = bool(opts.only & set(FLOORS))
        for name, app in (
            ("quantam", "serve:floor_app()" if floors else "service.app:create_app()"),
            ("trivial", "serve:trivial_app()"),
        ):
            pids[name] = servers.start(
                gunicorn_args(app, ports[name], opts), env, work / f"{name}.log"
            )
        wait_ready(ports["quantam"], "/healthz", servers)
        wait_ready(ports["trivial"], TRIVIAL_PATH, servers)

        q = ports["quantam"]
        specs = target_specs(pairs, slugs, opts.ids)
        www = work / "www"
        targets = [
            mirror(name, q, paths, www, work, conditional, ext, unique)
            for name, (paths, conditional, ext, unique) in specs.items()
            if name in opts.only
        ]
        runs: list[tuple[str, Run, Run | None]] = []
        if "events" in opts.only:
            # POSTs: nothing for nginx to serve as a file, so no nginx row.
            posts = beacons(pairs, 1000)
            check_beacon(q, posts[0])
            events_requests = work / "events.requests"
            events_requests.write_text("\n".join(posts) + "\n", encoding="utf-8")
            runs.append(("events", (q, events_requests, pids["quantam"]), None))
        www.mkdir(exist_ok=True)  # nothing mirrored when only beacons are measured
        for path in [www, *www.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (work / "tmp").mkdir()
        conf = work / "nginx.conf"
        conf.write_text(nginx_conf(work, ports["nginx"], os.cpu_count() or 1), encoding="utf-8")
        pids["nginx"] = servers.start(
            [nginx, "-p", str(work), "-c", str(conf)], env, work / "nginx.log"
        )
        wait_ready(ports["nginx"], "/", servers, expect=(200, 403, 404))
        for target in targets:
            if specs[target.name][1]:
                check_conditional(target, q)
                nginx_conditional(target, ports["nginx"])
        trivial = work / "trivial.requests"
        trivial.write_text(f"{TRIVIAL_PATH}\t\n", encoding="utf-8")
        script = work / "cycle.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        runs += [
            (
                t.name,
                (q, t.requests, pids["quantam"]),
                (ports["nginx"], t.static_requests, pids["nginx"]),
            )
            for t in targets
        ]
        trivial_run = (ports["trivial"], trivial, pids["trivial"])
        results, ratios, load = measure(trivial_run, runs, script, opts)
    finally:
        servers.stop()
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    report({name: median_result(r) for name, r in results.items()}, ratios, opts, len(pairs), load)


def measure(
    trivial: Run, runs: list[tuple[str, Run, Run | None]], script: Path, opts: argparse.Namespace
) -> tuple[dict[str, list[Result]], dict[str, list[float]], tuple[str, str]]:
    """wrk against every target: a warm-up run each, then `rounds` measured runs each. Each
    quantam run sits between two runs of trivial Flask and is compared with their mean: the
    machine is shared, and its load drifts within a minute."""
    for run in [trivial] + [r for _, *pair in runs for r in pair if r is not None]:
        wrk(run, script, opts, opts.warmup)
    load_before = load_average()
    results: dict[str, list[Result]] = {"trivial": []}
    ratios: dict[str, list[float]] = {}
    for _ in range(opts.rounds):
        before = wrk(trivial, script, opts, opts.duration)
        results["trivial"].append(before)
        for name, quantam_run, nginx_run in runs:
            measured = wrk(quantam_run, script, opts, opts.duration)
            after = wrk(trivial, script, opts, opts.duration)
            results.setdefault(name, []).append(measured)
            results["trivial"].append(after)
            ratios.setdefault(name, []).append(measured.rps / ((before.rps + after.rps) / 2))
            if nginx_run is not None:
                results.setdefault(f"{name}@nginx", []).append(
                    wrk(nginx_run, script, opts, opts.duration)
                )
            before = after
    return results, ratios, (load_before, load_average())


TARGETS = (
    "related",
    "related-by-url",
    "related-popular",
    "related-built",
    "rss",
    "rss-etag",
    "box",
    "box-popular",
    "popular",
    "events",
)
# Asked for by name only (`--only`): quantam's app is then served as floor_app().
FLOORS = ("floor", "floor-reads")
LABELS = {
    "trivial": f"trivial Flask {TRIVIAL_PATH}",
    "related": "related /api/articles/<id>/related",
    "related-by-url": "related by URL /api/related?url=",
    "related-popular": "related, popular ids (Zipf)",
    "related-built": "related, every answer built",
    "floor": "floor: a constant, as API answers",
    "floor-reads": "floor: related's reads, a constant",
    "rss": "RSS /feeds/<slug>.rss",
    "rss-etag": "RSS, matching If-None-Match (304)",
    "box": "the box /api/box?url=&boxes=related:6",
    "box-popular": "the box, popular pages (Zipf)",
    "popular": "most read /api/categories/<s>/popular",
    "events": "beacons POST /api/events (6 each)",
}


def report(
    medians: dict[str, Result],
    per_round: dict[str, list[float]],
    opts: argparse.Namespace,
    ids: int,
    load: tuple[str, str],
) -> None:
    """The table. A ratio is the median over rounds of an endpoint's req/s divided by the mean
    of the two trivial Flask runs beside it; cpu us is what gunicorn (master and workers) spent
    per request, which the machine's other load disturbs less than req/s."""
    ratios = {name: statistics.median(rounds) for name, rounds in per_round.items()}
    print(
        f"gunicorn: {opts.workers} workers, {opts.worker_class} worker class, {opts.threads} "
        f"thread(s); nginx: {os.cpu_count()} workers; wrk: 1 thread, {opts.connections} "
        f"connections, {opts.duration} s x {opts.rounds} rounds (medians), {ids} ids/URLs "
        f"cycled; load average before {load[0]}, after {load[1]}"
    )
    header = (
        f"{'endpoint':<36} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'bytes':>6} {'cpu us':>6} "
        f"{'ratio':>6} {'goal':>5} | {'nginx req/s':>11} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for name, label in LABELS.items():
        if name not in medians:
            continue
        r = medians[name]
        ratio = ratios.get(name, 1.0)
        row = (
            f"{label:<36} {r.rps:>7,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            f"{r.bytes_per_response:>6,.0f} {r.cpu_us:>6,.0f} {ratio:>6.3f}"
        )
        if name == "trivial":
            print(f"{row} {'':>5} | {'':>11} {'':>7} {'':>7}")
            continue
        ok = ratio >= GOAL
        if not ok and name not in FLOORS:  # a floor is a bound, not an endpoint
            missed.append(label)
        n = medians.get(f"{name}@nginx")
        nginx = f"{n.rps:>11,.0f} {n.p50_ms:>7.2f} {n.p99_ms:>7.2f}" if n else f"{'-':>11}"
        verdict = "-" if name in FLOORS else "ok" if ok else "MISS"
        print(f"{row} {verdict:>5} | {nginx}")
    print(
        "ratio per round: "
        + "; ".join(
            f"{name} " + " ".join(f"{r:.2f}" for r in rounds) for name, rounds in per_round.items()
        )
    )
    if missed:
        print(f"goal (>= {GOAL} of trivial Flask) missed by: {', '.join(missed)}")
    else:
        print(f"goal met: every quantam endpoint >= {GOAL} of trivial Flask's req/s")


# -- the mix: reads while articles are pushed ------------------------------------------------------

MIX_GOAL_P99 = 3.0
MIX_MODEL_MARK = "benchmark:serve:mix"
MIX_TOKEN = "benchmark-token"


def copy_db(source: Path, target: Path) -> None:
    """SQLite's online backup: a plain file copy would miss what the log still holds."""
    for old in target.parent.glob(target.name + "*"):
        old.unlink()
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def mix_store(opts: argparse.Namespace, db: Path) -> Path:
    """A copy of the store with the model fitted (`quantam reindex`), made once and kept beside
    it; each run pushes into a fresh copy of that (with --no-lists, of the store without a
    model: pushes are stored, and enter no list)."""
    run_db = opts.workdir / "mix-run.db"
    if opts.no_lists:
        copy_db(db, run_db)
        return run_db
    fitted = opts.workdir / "mix.db"
    if not (opts.reuse and fitted.exists()):
        partial = fitted.with_suffix(".partial")
        copy_db(db, partial)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "service", "reindex"],
            env={**os.environ, "PYTHONPATH": str(ROOT), "QUANTAM_STORE": f"sqlite:///{partial}"},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"fitted the model on a copy of the store in {time.perf_counter() - started:.0f} s")
        partial.rename(fitted)
    copy_db(fitted, run_db)
    return run_db


def fresh_articles(data: Path, skip_per_category: int) -> Iterator[dict[str, Any]]:
    """Push bodies of VNTC articles the store does not hold (past the first `skip_per_category`
    of each category), dated now, round-robin over the categories."""
    seen: dict[str, int] = {}
    with gzip.open(data / "vi-news" / "articles.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            n = seen[record["category"]] = seen.get(record["category"], 0) + 1
            paragraphs = [p for p in record["text"].split("\n") if p.strip()]
            if n <= skip_per_category or not record["title"] or not paragraphs:
                continue
            slug = slugify(record["category"])
            yield {
                "url": f"https://{_host(record)}/{slug}/{record['id'].lower()}-moi.html",
                "title": record["title"],
                "summary": paragraphs[0],
                "content_html": "".join(f"<p>{p}</p>" for p in paragraphs),
                "category": slug,
                "published": datetime.now(UTC).isoformat(),
            }


@dataclass
class Pusher:
    """Pushes one article every `every` seconds on its own thread, and times each push."""

    port: int
    articles: Iterator[dict[str, Any]]
    every: float
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: Any = None

    def start(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # On a fixed schedule, however long a push takes: a slow push is not a slower writer.
        due = time.monotonic()
        while not self._stop.wait(max(0.0, (due := due + self.every) - time.monotonic())):
            body = json.dumps(next(self.articles), ensure_ascii=False).encode()
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                conn.request(
                    "POST",
                    "/api/articles",
                    body,
                    {"Authorization": f"Bearer {MIX_TOKEN}", "Content-Type": "application/json"},
                )
                response = conn.getresponse()
                answer = response.read()
                if response.status not in (200, 201):
                    self.failures.append(f"HTTP {response.status}: {answer[:200]!r}")
            except OSError as exc:
                self.failures.append(str(exc))
            finally:
                conn.close()
            self.seconds.append(time.perf_counter() - started)


def run_mix(opts: argparse.Namespace) -> None:
    opts.wrk = tool("wrk")
    db = prepare_store(opts)
    pairs = article_sample(db, opts.ids)
    run_db = mix_store(opts, db)
    work = Path(tempfile.mkdtemp(prefix="quantam-serve-mix-"))
    servers = Servers()
    try:
        ports = {"quantam": free_port(), "trivial": free_port()}
        (work / "metrics").mkdir()
        env = server_env(run_db, ports["quantam"], work, QUANTAM_API_TOKEN=MIX_TOKEN)
        if opts.no_lists:  # no model, and none fitted on the fly
            env["QUANTAM_RELATED_AUTO_REINDEX_MAX"] = "0"
        pids = {
            name: servers.start(gunicorn_args(app, ports[name], opts), env, work / f"{name}.log")
            for name, app in (
                ("quantam", "service.app:create_app()"),
                ("trivial", "serve:trivial_app()"),
            )
        }
        wait_ready(ports["quantam"], "/healthz", servers)
        wait_ready(ports["trivial"], TRIVIAL_PATH, servers)
        by_url = dict(pairs)
        lines = []
        for n, article_id in enumerate(popular(pairs, opts.ids)):
            if n % 2:
                lines.append(f"/api/related?url={quote(by_url[article_id], safe='')}\t")
            else:
                lines.append(f"/api/articles/{article_id}/related\t")
        requests = work / "mix.requests"
        requests.write_text("\n".join(lines) + "\n", encoding="utf-8")
        trivial = work / "trivial.requests"
        trivial.write_text(f"{TRIVIAL_PATH}\t\n", encoding="utf-8")
        script = work / "cycle.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        mix_run = (ports["quantam"], requests, pids["quantam"])
        trivial_run = (ports["trivial"], trivial, pids["trivial"])
        # The same reads without writes first: what the pushes cost the readers.
        for run in (trivial_run, mix_run):
            wrk(run, script, opts, opts.warmup)
        quiet: dict[str, list[Result]] = {"trivial": [], "mix": []}
        quiet_ratios = []
        for _ in range(opts.rounds):
            before = wrk(trivial_run, script, opts, opts.duration)
            measured = wrk(mix_run, script, opts, opts.duration)
            quiet["mix"].append(measured)
            quiet["trivial"].append(before)
            quiet_ratios.append(measured.rps / before.rps)
        pusher = Pusher(
            ports["quantam"],
            fresh_articles(opts.data, opts.articles // VNTC_CATEGORIES),
            opts.push_every,
        )
        pusher.start()
        try:
            for run in (trivial_run, mix_run):
                wrk(run, script, opts, opts.warmup)
            load_before = load_average()
            results: dict[str, list[Result]] = {"trivial": [], "mix": []}
            rps_ratios, p99_ratios = [], []
            before = wrk(trivial_run, script, opts, opts.duration)
            for _ in range(opts.rounds):
                measured = wrk(mix_run, script, opts, opts.duration)
                after = wrk(trivial_run, script, opts, opts.duration)
                results["mix"].append(measured)
                results["trivial"] += [before, after]
                rps_ratios.append(measured.rps / ((before.rps + after.rps) / 2))
                p99_ratios.append(measured.p99_ms / ((before.p99_ms + after.p99_ms) / 2))
                before = after
            load = (load_before, load_average())
        finally:
            pusher.stop()
    finally:
        servers.stop()
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    report_mix(results, rps_ratios, p99_ratios, pusher, opts, load, quiet, quiet_ratios)


def report_mix(
    results: dict[str, list[Result]],
    rps_ratios: list[float],
    p99_ratios: list[float],
    pusher: Pusher,
    opts: argparse.Namespace,
    load: tuple[str, str],
    quiet: dict[str, list[Result]],
    quiet_ratios: list[float],
) -> None:
    trivial, mix = median_result(results["trivial"]), median_result(results["mix"])
    still = median_result(quiet["mix"])
    rps_ratio, p99_ratio = statistics.median(rps_ratios), statistics.median(p99_ratios)
    print(
        f"gunicorn: {opts.workers} workers, {opts.worker_class} worker class; wrk: 1 thread, "
        f"{opts.connections} connections, {opts.duration} s x {opts.rounds} rounds (medians), "
        f"{opts.ids} Zipf draws, half by id and half by URL; one push every {opts.push_every:g} "
        f"s{', entering no related list' if opts.no_lists else ''}; "
        f"load average before {load[0]}, after {load[1]}"
    )
    header = f"{'endpoint':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'cpu us':>6}"
    print(header)
    print("-" * len(header))
    for label, r in (
        (f"trivial Flask {TRIVIAL_PATH}", trivial),
        ("related by id and URL, no pushes", still),
        (f"related by id and URL, push every {opts.push_every:g} s", mix),
    ):
        print(f"{label:<40} {r.rps:>7,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} {r.cpu_us:>6,.0f}")
    pushes = sorted(pusher.seconds)
    print(
        f"pushes: {len(pushes)}, {len(pusher.failures)} failed"
        + (f" ({pusher.failures[0]})" if pusher.failures else "")
        + (
            f"; median {statistics.median(pushes) * 1000:.0f} ms, max {pushes[-1] * 1000:.0f} ms"
            if pushes
            else ""
        )
    )
    print(
        f"without pushes: req/s {statistics.median(quiet_ratios):.3f} of trivial Flask "
        "(per round: " + " ".join(f"{r:.2f}" for r in quiet_ratios) + ")"
    )
    print("req/s ratio per round: " + " ".join(f"{r:.2f}" for r in rps_ratios))
    print("p99 ratio per round: " + " ".join(f"{r:.2f}" for r in p99_ratios))
    ok_rps, ok_p99 = rps_ratio >= GOAL, p99_ratio <= MIX_GOAL_P99
    print(
        f"req/s {rps_ratio:.3f} of trivial Flask "
        f"(goal >= {GOAL}: {'met' if ok_rps else 'MISSED'}); "
        f"p99 {p99_ratio:.2f} times trivial Flask's (goal <= {MIX_GOAL_P99:g}: "
        f"{'met' if ok_p99 else 'MISSED'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "quantam-serve-bench",
        help="where the store is built (and found again with --reuse)",
    )
    parser.add_argument("--reuse", action="store_true", help="reuse a store built before")
    parser.add_argument(
        "--articles", type=int, default=10_000, help="articles stored, as many per category"
    )
    parser.add_argument("--ids", type=int, default=10_000, help="article ids/URLs to cycle over")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=2, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=10, help="seconds per warm-up run")
    parser.add_argument("--rounds", type=int, default=5, help="measured runs per target")
    parser.add_argument(
        "--only",
        type=lambda text: set(text.split(",")),
        default=set(TARGETS),
        help="comma-separated targets to measure beside trivial Flask: "
        f"{','.join(TARGETS)}; or the floors {','.join(FLOORS)} (see floor_app)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, files)")
    parser.add_argument(
        "--mix", action="store_true", help="reads by id and URL while articles are pushed"
    )
    parser.add_argument(
        "--no-lists",
        action="store_true",
        help="with --mix: pushed articles enter no related list (no model), so only the "
        "serving side's cost of writes is measured",
    )
    parser.add_argument(
        "--push-every", type=float, default=2.0, help="seconds between pushes with --mix"
    )
    opts = parser.parse_args()
    if opts.articles < VNTC_CATEGORIES * (RELATED_ITEMS + 1):
        parser.error(f"--articles: at least {VNTC_CATEGORIES * (RELATED_ITEMS + 1)}")
    unknown = opts.only - set(TARGETS) - set(FLOORS)
    if unknown:
        parser.error(f"--only: unknown target(s) {', '.join(sorted(unknown))}")
    if opts.mix:
        run_mix(opts)
    else:
        run(opts)


if __name__ == "__main__":
    main()
