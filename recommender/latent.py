"""A latent-semantic space (LSA) beside the TF-IDF vectors, for texts too short to share terms.

A headline and a one-sentence lead share two or three terms with a related story at best, and
often none of the ones that matter ("tuyển Việt Nam" against "đội tuyển", "bão" against "áp thấp").
A truncated SVD of the TF-IDF matrix maps every article to a few dozen dimensions in which
articles about the same subject lie close even when their words differ. quantam does not search
in that space: it re-scores the TF-IDF neighbours with a blend of both cosines
(`blend`), so a candidate still needs shared terms to be found, and the blend decides the
order and the floor. Measured on headline + lead (docs/recommender.md): re-scoring the 30
TF-IDF neighbours gains as much as searching the latent space too, at a fraction of the cost.

Fitted by scikit-learn's `TruncatedSVD` (randomized) on a sample of rows over the most frequent
buckets only: the components are `dims x terms` floats that every process loads, so the terms
are capped (64 x 65,536 float32 = 16 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from recommender.index import Columns, Positions, Rows, Similarities

# Terms (hash buckets) the space is fitted on: the most frequent ones found in at least
# MIN_DF articles. Rarer terms are names of one story, which the TF-IDF part already weighs.
MAX_TERMS = 65_536
MIN_DF = 2
# Rows the SVD is fitted on: a random sample beyond this (a fit over 50,000 short articles
# takes a few seconds; more rows barely move the leading components).
FIT_ROWS = 50_000


@dataclass(frozen=True)
class LatentSpace:
    """The fitted projection: `columns` (sorted buckets) and `components` (dims x columns)."""

    columns: Columns  # (terms,) sorted
    components: npt.NDArray[np.float32]  # (dims, terms)

    @property
    def dims(self) -> int:
        return int(self.components.shape[0])

    @classmethod
    def fit(
        cls, matrix: sp.csr_matrix, dims: int, seed: int = 0, fit_rows: int = FIT_ROWS
    ) -> LatentSpace | None:
        """The space of an L2-normalised TF-IDF matrix; None when it holds too few articles
        or terms for `dims` dimensions to mean anything (each dimension needs many articles)."""
        rows = matrix.shape[0]
        if dims < 2 or rows < 10 * dims:
            return None
        if rows > fit_rows:
            pick = np.sort(np.random.default_rng(seed).choice(rows, fit_rows, replace=False))
            matrix = matrix[pick]
        df = np.bincount(matrix.indices, minlength=matrix.shape[1])
        frequent = np.flatnonzero(df >= MIN_DF)
        if len(frequent) > MAX_TERMS:
            frequent = frequent[np.argsort(-df[frequent], kind="stable")[:MAX_TERMS]]
        columns = np.sort(frequent).astype(np.int32)
        if len(columns) <= 2 * dims:
            return None
        svd = TruncatedSVD(dims, algorithm="randomized", n_iter=5, random_state=seed)
        svd.fit(matrix[:, columns].astype(np.float32))
        return cls(columns=columns, components=svd.components_.astype(np.float32))

    def project(self, rows: sp.csr_matrix | Rows) -> npt.NDArray[np.float32]:
        """Each row's position in the space, L2-normalised (zeros for a row of unknown terms)."""
        if isinstance(rows, Rows):
            indptr, indices, data = rows.indptr, rows.indices, rows.data
        else:
            indptr, indices, data = rows.indptr, rows.indices, rows.data
        n = len(indptr) - 1
        at = np.searchsorted(self.columns, indices)
        at = np.minimum(at, len(self.columns) - 1)
        hit = self.columns[at] == indices
        owner = np.repeat(np.arange(n), np.diff(indptr))
        local = sp.csr_matrix(
            (data[hit], (owner[hit], at[hit])), shape=(n, len(self.columns)), dtype=np.float32
        )
        out = np.asarray(local @ self.components.T, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


class LatentVectors:
    """Every indexed article's latent vector by position, growing with adds."""

    def __init__(self, vectors: npt.NDArray[np.float32]):
        self._data = np.asarray(vectors, dtype=np.float32)
        self.size = self._data.shape[0]

    def add(self, vector: npt.NDArray[np.float32]) -> None:
        if self.size == self._data.shape[0]:
            grown = np.zeros((max(64, 2 * self.size), self._data.shape[1]), dtype=np.float32)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size] = vector
        self.size += 1

    def rows(self, positions: Positions) -> npt.NDArray[np.float32]:
        return self._data[positions]

    def cosines(self, position: int, others: Positions) -> Similarities:
        """Latent cosine of one article with each of `others` (0 where either has no vector)."""
        out: Similarities = self._data[others] @ self._data[position]
        return out


def blend(cosine: Similarities, latent: Similarities, weight: float) -> Similarities:
    """The similarity lists rank by: (1 - weight) x TF-IDF cosine + weight x latent cosine
    (negative latent cosines count as 0: opposite subjects are no less unrelated than
    orthogonal ones)."""
    # float32 (NEP 50: a Python float does not widen an array), where numpy's stubs say float64
    return cast(Similarities, (1.0 - weight) * cosine + weight * np.maximum(latent, 0.0))
