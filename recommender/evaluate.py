"""Offline evaluation on a labelled news corpus: quantam vs a plain TF-IDF baseline vs tantivy.

    python -m recommender.evaluate --corpus ../shared/data/vi-news/articles.jsonl.gz \
        [--text full|short] [--limit N] [--json]

Every system builds a related list of k items for every article of the same corpus. The category
labels are only the answer key: quantam sees every article in one category, so its same-category
boost cannot help. `--text short` keeps only what a typical feed carries: the headline and the
lead (the text's first sentence, cut to its first 40 words when longer). Metrics:

- precision_at_5: share of the first five items that carry the article's own label;
- mrr: mean reciprocal rank of the first item with the article's label (0 when none);
- nonfill_precision: share of the listed items not marked fill (all k of them) that carry the
  article's label; fill_rate: share of the listed places that are fill. A relevance floor that
  turns weak items into fill shows its cost in precision_at_5 and its gain here;
- off_label_nonfill: how many listed items not marked fill carry another label (the items a reader
  would take for a recommendation and find off-topic);
- coverage: share of articles that appear in at least one list;
- near_duplicate_pairs: pairs inside one list (the article and an item, or two items) whose word
  3-shingle sets have a Jaccard similarity of at least 0.5, a measure none of the systems uses;
- seconds: wall time to build every list (quantam: its full reindex, store writes included).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sparse_dot_topn import sp_matmul_topn

from recommender.engine import RelatedEngine
from recommender.settings import RelatedSettings
from store import open_store
from store.language import guess_language
from store.models import Article, IngestBatch

RELATED_FIELDS = {f.name for f in fields(RelatedSettings)}
# A value given for a RelatedSettings field by name (`--set`), of that field's type: no static
# type says which name takes which; RelatedSettings checks each value when it is built.
Setting = Any

K = 6
NEAR_DUPLICATE_JACCARD = 0.5
# The short variant: headline plus the text's first sentence, at most this many words (a feed's
# one-sentence lead: VnExpress and Thanh Niên leads run 25-45 words).
LEAD_WORDS = 40
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]*\s+|\n")
TEXTS = ("full", "short")
FIXED_DATE = datetime(2006, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Record:
    id: str
    title: str
    text: str
    label: str
    language: str
    published: datetime | None
    url: str
    short: bool = False  # text is the lead only (see `shorten`)


@dataclass
class Scores:
    precision_at_5: float
    mrr: float
    nonfill_precision: float
    fill_rate: float
    off_label_nonfill: int
    coverage: float
    near_duplicate_pairs: int
    seconds: float


class Evaluation(TypedDict):
    """What `evaluate` returns (and `--json` prints): each system's `Scores` as a dict."""

    text: str
    articles: int
    systems: dict[str, dict[str, float]]


# A system's lists: per article, (position of the item in the corpus, whether it is fill).
Lists = list[list[tuple[int, bool]]]


def lead(text: str, words: int = LEAD_WORDS) -> str:
    """The text's first sentence (or line), cut to its first `words` words when longer."""
    text = text.strip()
    first = _SENTENCE_END.split(text, maxsplit=1)[0] if text else ""
    return " ".join(first.split()[:words])


def shorten(records: Sequence[Record]) -> list[Record]:
    """The short variant of a corpus: each record's headline and lead only. A headline is cut
    to the same length: some of Dân trí's "titles" are its whole sapo (up to 181 words)."""
    return [
        dataclasses.replace(
            r, title=" ".join(r.title.split()[:LEAD_WORDS]), text=lead(r.text), short=True
        )
        for r in records
    ]


def load_corpus(path: str | Path, limit: int | None = None, seed: int = 20240601) -> list[Record]:
    """Records of a JSON Lines corpus (shared/data format); a seeded sample when limited."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"corpus {path} not found: pass --corpus PATH/articles.jsonl.gz")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    if limit and limit < len(rows):
        rows = sorted(random.Random(seed).sample(rows, limit), key=lambda r: r["id"])
    records = []
    for row in rows:
        published = row.get("published")
        records.append(
            Record(
                id=row["id"],
                title=row.get("title") or "",
                text=row.get("text") or "",
                label=row["category"],
                language=guess_language(f"{row.get('title', '')} {row.get('text', '')}"),
                published=datetime.fromisoformat(published).replace(tzinfo=UTC)
                if published
                else None,
                url=row.get("url") or f"https://corpus.invalid/{row['id']}",
            )
        )
    return records


# -- the three systems ---------------------------------------------------------------------------
def quantam_lists(
    records: Sequence[Record], k: int = K, **overrides: Setting
) -> tuple[Lists, float]:
    """quantam's engine on a throwaway SQLite store; every article in one category."""
    articles = [
        Article(
            id=r.id,
            url=r.url,
            title=r.title,
            category="all",
            # as ingestion stores a summary-only feed entry: the lead is summary and text
            summary=r.text if r.short else "",
            text=r.text,
            index_text=r.text,
            language=r.language,
            published=r.published or FIXED_DATE,
        )
        for r in records
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/evaluate.db")
        for start in range(0, len(articles), 5000):
            store.commit(IngestBatch(articles=articles[start : start + 5000]))
        engine = RelatedEngine(store, RelatedSettings(k=k, **overrides))
        started = time.perf_counter()
        engine.reindex()
        seconds = time.perf_counter() - started
        position = {r.id: i for i, r in enumerate(records)}
        lists = [
            [(position[i.article_id], i.fill) for i in (store.get_related(r.id) or [])[:k]]
            for r in records
        ]
        store.close()
    return lists, seconds


def baseline_lists(records: Sequence[Record], k: int = K) -> tuple[Lists, float]:
    """scikit-learn's default TfidfVectorizer, cosine, top k."""
    started = time.perf_counter()
    matrix = TfidfVectorizer(dtype=np.float32).fit_transform(
        [f"{r.title}\n{r.text}" for r in records]
    )
    product = sp_matmul_topn(matrix, matrix.T.tocsr(), top_n=k + 1, sort=True, n_threads=2)
    lists = []
    for i in range(len(records)):
        row = product.indices[product.indptr[i] : product.indptr[i + 1]]
        lists.append([(int(j), False) for j in row if j != i][:k])
    return lists, time.perf_counter() - started


def tantivy_lists(records: Sequence[Record], k: int = K) -> tuple[Lists, float]:
    """tantivy's more-like-this with its defaults, one query per article."""
    import tantivy  # a dev dependency (pyproject.toml): only this comparison uses it

    started = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=True)  # MLT by document re-reads the stored text
    builder.add_integer_field("n", stored=True, indexed=False, fast=True)
    index = tantivy.Index(builder.build())
    writer = index.writer(heap_size=400_000_000)
    for n, r in enumerate(records):
        writer.add_document(tantivy.Document(body=f"{r.title}\n{r.text}", n=n))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), len(records)).hits
    address = {searcher.doc(a)["n"][0]: a for _, a in hits}
    lists = []
    for n in range(len(records)):
        query = tantivy.Query.more_like_this_query(address[n])
        found = searcher.search(query, k + 1).hits
        ids = [searcher.doc(a)["n"][0] for _, a in found]
        lists.append([(j, False) for j in ids if j != n][:k])
    return lists, time.perf_counter() - started


SYSTEMS: dict[str, Callable[[Sequence[Record], int], tuple[Lists, float]]] = {
    "quantam": quantam_lists,
    "baseline": baseline_lists,
    "tantivy": tantivy_lists,
}


# -- metrics -------------------------------------------------------------------------------------
def shingles(text: str, size: int = 3) -> frozenset[int]:
    words = text.lower().split()
    return frozenset(hash(tuple(words[i : i + size])) for i in range(max(0, len(words) - size + 1)))


def near_duplicates(a: frozenset[int], b: frozenset[int]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= NEAR_DUPLICATE_JACCARD


def score(
    records: Sequence[Record],
    lists: Lists,
    seconds: float,
    sets: Sequence[frozenset[int]],
) -> Scores:
    precision, reciprocal, listed, pairs = [], [], set(), 0
    places = fills = nonfill_hits = 0
    for i, listing in enumerate(lists):
        label = records[i].label
        items = [j for j, _ in listing]
        hits = [records[j].label == label for j in items]
        precision.append(sum(hits[:5]) / 5)
        reciprocal.append(next((1 / (r + 1) for r, hit in enumerate(hits) if hit), 0.0))
        places += len(listing)
        fills += sum(fill for _, fill in listing)
        nonfill_hits += sum(hit for hit, (_, fill) in zip(hits, listing, strict=True) if not fill)
        listed.update(items)
        members = [i, *items]
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pairs += near_duplicates(sets[members[x]], sets[members[y]])
    nonfill = places - fills
    return Scores(
        precision_at_5=round(float(np.mean(precision)), 4),
        mrr=round(float(np.mean(reciprocal)), 4),
        nonfill_precision=round(nonfill_hits / nonfill, 4) if nonfill else 0.0,
        fill_rate=round(fills / places, 4) if places else 0.0,
        off_label_nonfill=nonfill - nonfill_hits,
        coverage=round(len(listed) / len(records), 4),
        near_duplicate_pairs=pairs,
        seconds=round(seconds, 1),
    )


def evaluate(
    records: Sequence[Record],
    systems: Sequence[str] = tuple(SYSTEMS),
    overrides: dict[str, Setting] | None = None,
) -> Evaluation:
    """overrides: RelatedSettings fields for quantam, to measure a setting's effect. Records
    of the short variant (`shorten`) are scored on their short text, near-copies included."""
    sets = [shingles(f"{r.title}\n{r.text}") for r in records]
    results = {}
    for name in systems:
        if name == "quantam":
            lists, seconds = quantam_lists(records, K, **(overrides or {}))
        else:
            lists, seconds = SYSTEMS[name](records, K)
        results[name] = asdict(score(records, lists, seconds, sets))
    text = "short" if records and records[0].short else "full"
    return {"text": text, "articles": len(records), "systems": results}


def table(result: Evaluation) -> str:
    head = (
        f"{'system':<10} {'precision@5':>12} {'MRR':>8} {'non-fill P':>11} {'fill rate':>10} "
        f"{'off-label':>10} {'coverage':>9} {'near-dup pairs':>15} {'seconds':>8}"
    )
    lines = [head, "-" * len(head)]
    for name, s in result["systems"].items():
        lines.append(
            f"{name:<10} {s['precision_at_5']:>12.4f} {s['mrr']:>8.4f} "
            f"{s['nonfill_precision']:>11.4f} {s['fill_rate']:>10.4f} "
            f"{s['off_label_nonfill']:>10d} {s['coverage']:>9.4f} "
            f"{s['near_duplicate_pairs']:>15d} {s['seconds']:>8.1f}"
        )
    base = result["systems"].get("baseline")
    if base:
        lines.append("")
        lines.append(
            "ratio to baseline (same run): "
            + ", ".join(
                f"{name} precision@5 {s['precision_at_5'] / base['precision_at_5']:.3f} "
                f"MRR {s['mrr'] / base['mrr']:.3f}"
                for name, s in result["systems"].items()
                if name != "baseline" and base["precision_at_5"] and base["mrr"]
            )
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recommender.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--corpus", required=True, help="articles.jsonl.gz (shared/data format)")
    parser.add_argument("--limit", type=int, help="evaluate on a seeded sample of this many")
    parser.add_argument(
        "--text",
        choices=TEXTS,
        default="full",
        help="full: headline and whole text; short: headline and lead, as most feeds carry",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help="comma-separated subset of " + ", ".join(SYSTEMS),
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a quantam setting for this run, e.g. --set half_life_days=0",
    )
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in RELATED_FIELDS:
            parser.error(f"unknown setting {name!r}: one of {', '.join(sorted(RELATED_FIELDS))}")
        overrides[name] = type(getattr(RelatedSettings(), name))(value)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        parser.error(f"unknown system {unknown[0]!r}: choose from {', '.join(SYSTEMS)}")
    try:
        records = load_corpus(args.corpus, args.limit)
    except FileNotFoundError as exc:
        parser.error(str(exc))
    if args.text == "short":
        records = shorten(records)
    result = evaluate(records, systems, overrides)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"corpus {args.corpus} ({args.text} text): {len(records)} articles, k={K}, "
            "labels hidden from quantam"
        )
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
