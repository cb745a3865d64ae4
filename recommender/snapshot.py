"""The index's vectors as stored bytes: what a new process loads instead of analysing text.

A process that keeps lists (a web worker taking CMS pushes, an RQ worker) needs the index of
every article in the window before its first add. Rebuilding it from the stored text means
analysing every article again: 14 s of CPU for 10,000 articles on this machine, paid by each of
a server's workers at its first push, while readers wait on the same cores. The vectors
themselves load in a fraction of that (arrays read from one blob). So the engine that fits the
model stores the index's live rows beside it, and whoever applies the change log refreshes them
every `REFRESH_EVERY` changes; a loading process takes the rows and replays only the changes
logged after them (the change log holds every upsert and takedown, so nothing is missed).

Numbers and JSON only, read with `allow_pickle=False` (as recommender/model.py, for the same
reason: whoever can write the store must not be able to run code in every worker).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recommender.state import Columns, IndexState
from store.base import Store

# Derived meta (Store.DERIVED_META): its sequence numbers are this store's change log's, so a
# migration, whose target logs every article again under new numbers, leaves it behind and the
# target's first loading process vectorises the articles instead.
SNAPSHOT_KEY = Store.DERIVED_META + "related:snapshot"
# The change-log sequence number the stored snapshot holds (read without the snapshot itself).
SNAPSHOT_SEQ_KEY = Store.DERIVED_META + "related:snapshot-seq"
FORMAT = 1
# Changes a loading process may have to replay before a fresher snapshot is stored: replaying
# one costs about what analysing one article does (~1.3 ms), so 1,000 stay near a second, and
# storing the rows again (31 MB at 10,000 articles: 0.2 s to encode, 0.7 s with SQLite's write;
# decoding them takes 20 ms) is paid once per 1,000.
REFRESH_EVERY = 1000
# Larger snapshots are not stored: a value this size is what Redis (512 MB at most) and SQLite
# (1 GB) take with room to spare, and what a store can hand a worker in a few seconds. 8 bytes
# an entry, ~460 entries an article: ~70,000 articles, 10 weeks at 1,000 a day; a larger index
# (a whole archive without a recency window) is vectorised again at load, as before.
MAX_BYTES = 256 * 1024 * 1024


class SnapshotError(ValueError):
    """Stored snapshot bytes that this version cannot read; the message says why."""


@dataclass
class Snapshot:
    """The live rows of an index, the model version they were weighed with and the last
    change they include."""

    version: str
    seq: int
    vectors: sp.csr_matrix
    columns: Columns
    # The recency window (seconds, 0: none) the rows were kept for: a process with another
    # window needs other rows (the whole archive, or only the window).
    window: float = 0.0


def fits(state: IndexState, max_bytes: int = MAX_BYTES) -> bool:
    """Whether the state's rows are small enough to be stored."""
    return 8 * state.index.stored <= max_bytes


def of_state(state: IndexState, window: float) -> Snapshot:
    """The state's live articles (a takedown's or an edit's old row is left out), kept for a
    recency window of `window` seconds."""
    live = np.flatnonzero(state.index.alive[: state.index.size])
    vectors = state.index.rows(live).csr()
    columns = Columns(
        ids=[state.ids[p] for p in live.tolist()],
        published=[state.published[p] for p in live.tolist()],
        category=[state.category[p] for p in live.tolist()],
    )
    return Snapshot(state.version, state.seq, vectors, columns, window)


def dump(snapshot: Snapshot) -> bytes:
    c = snapshot.columns
    meta = {
        "format": FORMAT,
        "version": snapshot.version,
        "seq": snapshot.seq,
        "width": int(snapshot.vectors.shape[1]),
        "window": snapshot.window,
        "ids": c.ids,
        "category": c.category,
    }
    out = io.BytesIO()
    v = snapshot.vectors
    # Not compressed: the weights are float32 noise to zlib (measured: 8 % smaller, 10x slower).
    np.savez(
        out,
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        published=np.asarray(c.published, dtype=np.float64),
        indptr=np.asarray(v.indptr, dtype=np.int64),
        indices=np.asarray(v.indices, dtype=np.int32),
        data=np.asarray(v.data, dtype=np.float32),
    )
    return out.getvalue()


def load(raw: bytes) -> Snapshot:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes())
            if meta.get("format") != FORMAT:
                raise SnapshotError(
                    f"snapshot format {meta.get('format')!r}, this version reads {FORMAT}"
                )
            ids, category = list(meta["ids"]), list(meta["category"])
            published = data["published"].tolist()
            indptr, indices, values = data["indptr"], data["indices"], data["data"]
            rows = len(ids)
            if not (len(category) == len(published) == rows == len(indptr) - 1):
                raise SnapshotError(f"snapshot columns disagree ({rows} ids)")
            vectors = sp.csr_matrix((values, indices, indptr), shape=(rows, int(meta["width"])))
            vectors.check_format(full_check=True)
    except SnapshotError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise SnapshotError(f"not a stored snapshot ({exc.__class__.__name__}: {exc})") from exc
    columns = Columns(ids, published, category)
    window = float(meta.get("window", 0.0))
    return Snapshot(str(meta["version"]), int(meta["seq"]), vectors, columns, window)
