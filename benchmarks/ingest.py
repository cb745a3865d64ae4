"""Ingestion throughput: quantam's whole pipeline against bare feedparser.parse, same bytes.

    python benchmarks/ingest.py [--data ../shared/data] [--entries 5000] [--repeat 5]

For each input (the real Vietnamese feed files in DATA/feeds/vi/ and one generated feed of
--entries items built from real Dân trí articles in DATA/vi-news-dantri/), prints articles per
second for bare `feedparser.parse(bytes)` and for quantam's pipeline (parse, normalise, sanitise,
dedupe, store into a fresh SQLite file, one transaction), and the ratio of their times.
Goal: the pipeline costs at most 2x bare feedparser.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.ingest.pipeline import Ingestor
from store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parent.parent


def generated_feed(data: Path, entries: int) -> bytes:
    """An RSS 2.0 feed of real Dân trí articles (titles, URLs, dates, full text as HTML)."""
    path = data / "vi-news-dantri" / "articles.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        articles = [json.loads(line) for line in fh]
    ET.register_namespace("content", "http://purl.org/rss/1.0/modules/content/")
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = "Dân trí (generated benchmark feed)"
    ET.SubElement(channel, "link").text = "https://dantri.com.vn/"
    ET.SubElement(channel, "description").text = "benchmark"
    start = datetime(2021, 5, 1, tzinfo=UTC)
    for n in range(entries):
        a = articles[n % len(articles)]
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = a["title"]
        url = a["url"] if n < len(articles) else f"{a['url']}?copy={n}"
        ET.SubElement(item, "link").text = url
        ET.SubElement(item, "guid", isPermaLink="false").text = f"{a['id']}-{n}"
        lines = a["text"].split("\n")
        ET.SubElement(
            item, "description"
        ).text = (
            f'<a href="{url}"><img src="https://icdn.dantri.com.vn/{n}.jpg"></a></br>{lines[0]}'
        )
        body = "".join(f"<p>{line}</p>" for line in lines) + f" (bản {n})"
        ET.SubElement(item, "{http://purl.org/rss/1.0/modules/content/}encoded").text = body
        ET.SubElement(item, "pubDate").text = (start - timedelta(minutes=n)).strftime(
            "%a, %d %b %Y %H:%M:%S +0000"
        )
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def time_bare(body: bytes, repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = feedparser.parse(body)
        times.append(time.perf_counter() - t0)
        count = len(result.entries)
    return statistics.median(times), count


def time_pipeline(body: bytes, repeat: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStore(f"sqlite:///{Path(tmp) / 'bench.db'}")
            ingestor = Ingestor(store)
            ingestor.ensure_category("bench")
            t0 = time.perf_counter()
            report = ingestor.ingest_bytes(body, target="bench.xml", category="bench")
            times.append(time.perf_counter() - t0)
            assert report.ok, report.error
            count = store.count_articles()
            store.close()
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    inputs = [(p.name, p.read_bytes()) for p in sorted((args.data / "feeds" / "vi").iterdir())]
    inputs.append(
        (f"generated-{args.entries}-entries.rss", generated_feed(args.data, args.entries))
    )
    print(f"{'input':<52} {'entries':>7} {'feedparser a/s':>15} {'quantam a/s':>12} {'ratio':>6}")
    ratios = []
    for name, body in inputs:
        repeat = max(1, args.repeat if len(body) < 5_000_000 else args.repeat // 2)
        bare, entries = time_bare(body, repeat)
        pipe, stored = time_pipeline(body, repeat)
        ratio = pipe / bare
        ratios.append(ratio)
        print(
            f"{name:<52} {entries:>7} {entries / bare:>15,.0f} {stored / pipe:>12,.0f} "
            f"{ratio:>5.2f}x"
        )
    print(
        f"pipeline time / bare feedparser time: worst {max(ratios):.2f}x, "
        f"median {statistics.median(ratios):.2f}x (goal: at most 2x)"
    )


if __name__ == "__main__":
    main()
