"""Benchmark: quantam's related lists vs tantivy's more-like-this on the same articles.

    python benchmarks/recommend.py [--data ../shared/data] [--sizes 10000,100000,1000000]

The corpus is VNTC (shared/data/vi-news) scaled up: each synthetic article takes a category in
VNTC's proportions, a real headline of that category, and a real article's sentence count of
sentences resampled from that category (random.Random(seed)), so every size has VNTC's
vocabulary and topic structure. Articles are dated 1,000 a day. 1,000 real VNTC articles are held
out of the sentence pools and added one by one afterwards.

For every size, in separate processes (so peak memory is per system):
- quantam: its full reindex through a SQLite store (read, vectorise, every article's neighbours
  and its ranked list, write; from 5,000 articles the lists are ranked in 2 forked processes)
  and then `sync` after each held-out article is committed (its list plus its insertion into
  older lists, store reads and writes included; wall clock, and the adding thread's CPU time);
  recall@10 of the build's neighbours against an exact chunked sparse product (scipy, no
  pruning) on 1,000 sampled rows;
- tantivy: index build (one stored text field) plus one more-like-this query per article, and
  one more-like-this query (by text) per held-out article. At sizes above --tantivy-all, the
  per-article queries run on a sample and their mean is multiplied out (said in the output).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2024, 1, 1, tzinfo=UTC)
PER_DAY = 1000
SEED = 20260101
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n")


def synthesize(data: Path, size: int, held_out: int = 1000):
    """(articles, held-out articles) as store Articles; deterministic for a size.

    The articles come as an iterator, made as they are taken: a million of them at once would
    take several GB of the worker's memory (and its peak) before the system under test starts.
    """
    # quantam's modules are imported in the worker that measures quantam only: each system's
    # peak memory counts what it loads, not what the others do.
    from store.models import Article

    with gzip.open(data / "vi-news" / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    rng = random.Random(SEED)
    rng.shuffle(rows)
    held, rest = rows[:held_out], rows[held_out:]
    sentences: dict[str, list[str]] = defaultdict(list)
    titles: dict[str, list[str]] = defaultdict(list)
    lengths: dict[str, list[int]] = defaultdict(list)
    for row in rest:
        parts = [p for p in _SENTENCE.split(row["text"]) if p.strip()]
        sentences[row["category"]].extend(parts)
        lengths[row["category"]].append(len(parts))
        titles[row["category"]].append(row.get("title") or "")
    categories = sorted(lengths)
    weights = [len(lengths[c]) for c in categories]
    step = timedelta(days=1) / PER_DAY
    del rows, rest

    def articles():
        for i in range(size):
            category = rng.choices(categories, weights)[0]
            pool = sentences[category]
            body = " ".join(
                pool[rng.randrange(len(pool))] for _ in range(rng.choice(lengths[category]))
            )
            yield _article(
                f"s{i}", rng.choice(titles[category]), body, category, START + i * step, Article
            )

    late = [
        _article(
            f"h{j}-{r['id']}",
            r.get("title") or "",
            r["text"],
            r["category"],
            START + (size + j) * step,
            Article,
        )
        for j, r in enumerate(held)
    ]
    return articles(), late


def _article(aid, title, body, category, published, cls):
    slug = re.sub(r"[^a-z]+", "-", category.lower()).strip("-")
    return cls(
        id=aid,
        url=f"https://bench.invalid/{aid}",
        title=title,
        category=slug,
        index_text=body,
        published=published,
    )


def peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


class AnonPeak:
    """The process's peak of anonymous memory (RssAnon in /proc/self/status), sampled every
    0.2 s on a thread: ru_maxrss also counts file-backed pages, such as those of the windowed
    build's memory-mapped spill as they are read, which the kernel drops under pressure."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_kib = max(self.peak_kib, self.sample())

    @staticmethod
    def sample() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
        return 0

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak_kib, self.sample()) / 1024


def quantam_worker(data: Path, size: int, max_age_days: float) -> dict:
    # Imported here, in quantam's own worker process, for the same reason as in `synthesize`.
    from recommender.engine import RelatedEngine
    from recommender.settings import RelatedSettings
    from store.models import IngestBatch
    from store.sqlite import SQLiteStore

    anon = AnonPeak()
    articles, late = synthesize(data, size)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        store = SQLiteStore(f"sqlite:///{tmp}/bench.db")
        while batch := list(islice(articles, 10_000)):
            store.commit(IngestBatch(articles=batch))
        del batch
        settings = RelatedSettings(k=10, max_age_days=max_age_days, auto_reindex_max=0)
        engine = RelatedEngine(store, settings)
        # a windowed build keeps every neighbour row for the recall below (360 bytes an article
        # of its peak memory; not kept in production)
        engine.keep_neighbours = True
        started = time.perf_counter()
        report = engine.reindex()
        build = time.perf_counter() - started
        build_peak = peak_mib()
        build_anon = anon.stop()
        if max_age_days > 0:
            recall = windowed_recall(store, engine, max_age_days)
        else:
            recall = whole_recall(engine, size)
        timings, cpu = [], []
        for article in late:
            store.commit(IngestBatch(articles=[article]))
            started, started_cpu = time.perf_counter(), time.thread_time()
            engine.sync()
            timings.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - started_cpu)
        store.close()
    return {
        "system": "quantam",
        "size": size,
        "build_s": round(build, 1),
        "articles": report.articles,
        "recall_at_10": round(recall, 4),
        "add_p50_ms": round(float(np.percentile(timings, 50)) * 1000, 2),
        "add_p99_ms": round(float(np.percentile(timings, 99)) * 1000, 2),
        # the adding thread's CPU time: what the add costs without the waits for a busy machine's
        # cores and the disk (a WAL checkpoint's fsync), which the wall-clock figures include
        "add_cpu_p50_ms": round(float(np.percentile(cpu, 50)) * 1000, 2),
        "add_cpu_p99_ms": round(float(np.percentile(cpu, 99)) * 1000, 2),
        "peak_mib_build": round(build_peak),
        # anonymous memory only, up to the end of the build (what the kernel cannot drop)
        "peak_anon_mib_build": round(build_anon),
        "peak_mib": round(peak_mib()),
        # the largest forked worker (its pages are mostly shared with the parent)
        "peak_mib_workers": round(peak_mib(resource.RUSAGE_CHILDREN)),
        "max_age_days": max_age_days,
        "engine_rows": len(engine._state.ids),
    }


def whole_recall(engine, size: int) -> float:
    """recall@10 of the build's neighbours against an exact product, on 1,000 sampled rows."""
    state = engine._state
    # the index's own matrix and inverted lists: copies would double the build's memory
    vectors = state.index.matrix()
    sample = np.random.default_rng(SEED).choice(size, min(1000, size), replace=False)
    transposed = state.index._main_t
    hits = total = 0
    for chunk in np.array_split(sample, max(1, len(sample) // 100)):
        product = (vectors[chunk] @ transposed).toarray()
        product[np.arange(len(chunk)), chunk] = -1
        for row, i in zip(product, chunk, strict=True):
            want = np.argpartition(-row, 10)[:10]
            want = {int(j) for j in want if row[j] > 0}
            got = set(engine.last_neighbours.positions[i][:10].tolist()) - {-1}
            hits += len(want & got)
            total += len(want)
    return hits / max(total, 1)


def windowed_recall(store, engine, max_age_days: float, slices: int = 5, rows: int = 200) -> float:
    """recall@10 of a windowed build's neighbours against the exact lists within the window:
    `slices` runs of `rows` consecutive articles (time order) at random, each searched exactly
    (a dense product) among every article within the window of the run, vectorised again with
    the fitted model (the build keeps only the last window's vectors)."""
    from recommender.vectorize import ArticleText

    ids, found = engine.last_ids, engine.last_neighbours
    vectorizer = engine._state.vectorizer
    reach = timedelta(days=max_age_days)
    rng = np.random.default_rng(SEED)
    hits = total = 0
    for start in rng.choice(len(ids) - rows, slices, replace=False).tolist():
        run = store.get_articles(ids[start : start + rows])
        near = list(
            store.iter_articles_by_time(
                since=run[0].published - reach, until=run[-1].published + reach + timedelta(1e-6)
            )
        )
        vectors = vectorizer.transform([ArticleText.of(a) for a in near])
        where = {a.id: i for i, a in enumerate(near)}
        times = np.array([a.published.timestamp() for a in near])
        mine = np.array([where[a.id] for a in run])
        product = (vectors[mine] @ vectors.T).toarray()
        product[np.abs(times[mine][:, None] - times[None, :]) > reach.total_seconds()] = 0
        product[np.arange(rows), mine] = 0
        for k, row in enumerate(product):
            want = {near[j].id for j in np.argpartition(-row, 10)[:10] if row[j] > 0}
            got = {ids[p] for p in found.positions[start + k][:10].tolist() if p >= 0}
            hits += len(want & got)
            total += len(want)
    return hits / max(total, 1)


def tantivy_worker(data: Path, size: int, query_all_up_to: int, window_days: float) -> dict:
    """tantivy's index and more-like-this; with a window, each query is restricted to the
    articles published within window_days of its own (a range query on a fast field)."""
    import tantivy  # only this worker's system; the others' peak memory leaves it out

    step = 86400 // PER_DAY  # seconds between articles, as `synthesize` dates them
    reach = int(window_days * 86400)

    def windowed(query, t: int, after: bool = True):
        if not reach:
            return query
        dates = tantivy.Query.range_query(
            schema, "t", tantivy.FieldType.Integer, t - reach, t + reach if after else t
        )
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query), (tantivy.Occur.Must, dates)]
        )

    articles, late = synthesize(data, size)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("body", stored=True)
        builder.add_integer_field("n", stored=True, indexed=False, fast=True)
        builder.add_integer_field("t", stored=False, indexed=True, fast=True)
        schema = builder.build()
        started = time.perf_counter()
        index = tantivy.Index(schema, path=tmp)
        writer = index.writer(heap_size=500_000_000)
        for n, a in enumerate(articles):
            writer.add_document(
                tantivy.Document(body=f"{a.title}\n{a.index_text}", n=n, t=n * step)
            )
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        index_s = time.perf_counter() - started
        searcher = index.searcher()
        hits = searcher.search(tantivy.Query.all_query(), size).hits
        address = [a for _, a in hits]
        queried = (
            address
            if size <= query_all_up_to
            else random.Random(SEED).sample(address, query_all_up_to)
        )
        # each queried article's date, read before the clock starts
        when = [searcher.doc(a)["n"][0] * step if reach else 0 for a in queried]
        started = time.perf_counter()
        for a, t in zip(queried, when, strict=True):
            searcher.search(windowed(tantivy.Query.more_like_this_query(a), t), 11)
        per_query = (time.perf_counter() - started) / len(queried)
        timings = []
        for j, a in enumerate(late):
            started = time.perf_counter()
            query = tantivy.Query.more_like_this_document_fields_query(
                schema, {"body": [f"{a.title}\n{a.index_text}"]}
            )
            searcher.search(windowed(query, (size + j) * step, after=False), 11)
            timings.append(time.perf_counter() - started)
    return {
        "system": "tantivy",
        "size": size,
        "build_s": round(index_s + per_query * size, 1),
        "index_s": round(index_s, 1),
        "query_ms": round(per_query * 1000, 2),
        "queries_sampled": len(queried) < size,
        "add_p50_ms": round(float(np.percentile(timings, 50)) * 1000, 2),
        "add_p99_ms": round(float(np.percentile(timings, 99)) * 1000, 2),
        "peak_mib": round(peak_mib()),
        "window_days": window_days,
    }


def run_worker(args: argparse.Namespace, system: str, size: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        system,
        "--size",
        str(size),
        "--data",
        str(args.data),
        "--tantivy-all",
        str(args.tantivy_all),
        "--window-from",
        str(args.window_from),
        "--window-days",
        str(args.window_days),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{system} at {size} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--tantivy-all",
        type=int,
        default=100_000,
        help="query every article up to this size, a sample of this many above",
    )
    parser.add_argument(
        "--window-from",
        type=int,
        default=1_000_000,
        help="from this size on, quantam uses a recency window",
    )
    parser.add_argument("--window-days", type=float, default=7.0)
    parser.add_argument("--worker", choices=["quantam", "tantivy"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    args = parser.parse_args()
    if not (args.data / "vi-news" / "articles.jsonl.gz").exists():
        parser.error(f"{args.data}/vi-news/articles.jsonl.gz not found: pass --data")
    if args.worker == "quantam":
        window = args.window_days if args.size >= args.window_from else 0.0
        print(json.dumps(quantam_worker(args.data, args.size, window)))
        return
    if args.worker == "tantivy":
        window = args.window_days if args.size >= args.window_from else 0.0
        print(json.dumps(tantivy_worker(args.data, args.size, args.tantivy_all, window)))
        return
    print(
        f"VNTC scaled by resampling sentences within a category (seed {SEED}), {PER_DAY} "
        f"articles a day; 1,000 held-out real articles added one by one. load: "
        f"{os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}",
        flush=True,
    )
    for size in [int(s) for s in args.sizes.split(",")]:
        q = run_worker(args, "quantam", size)
        # Printed at once: at 1M tantivy's side takes another hour or more.
        print(f"quantam at {size:,}: {json.dumps(q)}", file=sys.stderr, flush=True)
        t = run_worker(args, "tantivy", size)
        if args.json:
            print(json.dumps({"quantam": q, "tantivy": t}), flush=True)
            continue
        note = " (tantivy queries sampled, mean x N)" if t["queries_sampled"] else ""
        window = (
            f" (recency window {q['max_age_days']:g} days, both systems)"
            if q["max_age_days"]
            else ""
        )
        print(f"\n{size:,} articles{note}{window}; load {os.getloadavg()[0]:.2f}", flush=True)
        print(
            f"  full build   quantam {q['build_s']:>8.1f} s   tantivy {t['build_s']:>8.1f} s "
            f"(index {t['index_s']} s + {t['query_ms']} ms/query)   ratio "
            f"{q['build_s'] / t['build_s']:.2f}"
        )
        print(
            f"  add p50      quantam {q['add_p50_ms']:>8.2f} ms  tantivy {t['add_p50_ms']:>8.2f} ms"
            f"   ratio {q['add_p50_ms'] / t['add_p50_ms']:.2f}"
        )
        print(
            f"  add p99      quantam {q['add_p99_ms']:>8.2f} ms  tantivy {t['add_p99_ms']:>8.2f} ms"
            f"   ratio {q['add_p99_ms'] / t['add_p99_ms']:.2f}"
        )
        exact = "exact lists in the window" if q["max_age_days"] else "exact sparse product"
        print(f"  recall@10    quantam {q['recall_at_10']:.4f} (vs {exact})")
        print(
            f"  peak memory  quantam {q['peak_mib']:>8d} MiB (build {q['peak_mib_build']} MiB, "
            f"of it anonymous {q.get('peak_anon_mib_build', 0)} MiB; "
            f"largest list worker {q.get('peak_mib_workers', 0)} MiB, shared pages included)  "
            f"tantivy {t['peak_mib']:>8d} MiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
