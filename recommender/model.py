"""The fitted related-stories model as stored bytes: NumPy arrays and JSON, never pickle.

Every process that keeps lists loads the model another process fitted, from the store. A pickle
there would let whoever can write to the store (a Redis shared by many hosts) run code in every
worker; an `.npz` read with `allow_pickle=False` holds numbers only. The file carries the
vectoriser's parameters (JSON), its IDF (one float per hash bucket: 16 MiB raw, a few KiB
compressed since unseen buckets share one value) and the latent space, if any.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import numpy as np

from recommender.latent import LatentSpace
from recommender.vectorize import ArticleVectorizer

FORMAT = 2


class ModelError(ValueError):
    """Stored model bytes that this version cannot read; the message says why."""


@dataclass
class Model:
    vectorizer: ArticleVectorizer
    latent: LatentSpace | None
    seq: int


def dump(model: Model) -> bytes:
    v = model.vectorizer
    params = v.get_params()
    params["ngram_range"] = list(params["ngram_range"])
    meta = {"format": FORMAT, "seq": model.seq, "n_docs": int(v.n_docs_), "vectorizer": params}
    encoded = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    idf = np.asarray(v.tfidf_.idf_, dtype=np.float32)
    out = io.BytesIO()
    if model.latent is None:
        np.savez_compressed(out, meta=encoded, idf=idf)
    else:
        latent = model.latent
        np.savez_compressed(
            out,
            meta=encoded,
            idf=idf,
            latent_columns=latent.columns,
            latent_components=latent.components,
        )
    return out.getvalue()


def load(raw: bytes) -> Model:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes())
            if meta.get("format") != FORMAT:
                raise ModelError(
                    f"model format {meta.get('format')!r}, this version reads {FORMAT}"
                )
            params = dict(meta["vectorizer"])
            params["ngram_range"] = tuple(params["ngram_range"])
            vectorizer = ArticleVectorizer(**params)
            vectorizer.set_idf(data["idf"], int(meta["n_docs"]))
            latent = None
            if "latent_components" in data:
                latent = LatentSpace(
                    columns=data["latent_columns"], components=data["latent_components"]
                )
            return Model(vectorizer=vectorizer, latent=latent, seq=int(meta["seq"]))
    except ModelError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        # an old pickled model (zlib bytes), or bytes cut short
        raise ModelError(f"not a stored model of this version ({exc.__class__.__name__})") from exc
