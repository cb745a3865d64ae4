"""The recommender's settings, in one dataclass; `service.config` maps QUANTAM_RELATED_* onto it."""

from __future__ import annotations

from dataclasses import dataclass

from recommender.rank import RankParams

MAX_K = 20


class SettingsError(ValueError):
    """A related-articles setting is out of range; the message names it."""


@dataclass(frozen=True)
class RelatedSettings:
    # List shape
    k: int = 6  # items served by default
    pool: int = 30  # most similar articles considered per list
    min_score: float = 0.1  # below this, places are filled from the category's latest
    # Ranking
    half_life_days: float = 180.0  # recency decay on the time between article and item
    max_age_days: float = 0.0  # 0: items of any age
    category_boost: float = 0.1
    mmr_lambda: float = 0.8  # 1: pure relevance; lower: more diverse
    diversity_threshold: float = 0.3  # MMR only among items at least this similar
    duplicate_threshold: float = 0.6  # cosine at which two articles are copies of one story
    # Text model (chosen by measurement: docs/recommender.md)
    title_weight: float = 1.0
    summary_weight: float = 1.0
    body_weight: float = 1.0
    max_df: float = 0.1
    n_features: int = 2**22
    # Latent space (LSA) blended into similarity; 0: TF-IDF cosine only (recommender/latent.py)
    latent_weight: float = 0.2
    latent_dims: int = 64
    # relevance x this for an item whose shared terms are one short concept (evidence.py)
    single_concept_weight: float = 0.7
    # Operations
    threads: int = 2
    auto_reindex_max: int = 20_000  # refit automatically while the store is this small
    explain_terms: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.k <= MAX_K:
            raise SettingsError(f"related_k must be between 1 and {MAX_K}, not {self.k}")
        if self.pool < self.stored_k:
            raise SettingsError(f"related_pool must be at least {self.stored_k}")
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise SettingsError("related_mmr_lambda must be between 0 and 1")
        if not 0.0 < self.duplicate_threshold <= 1.0:
            raise SettingsError("related_duplicate_threshold must be in (0, 1]")
        if not 0.0 < self.max_df <= 1.0:
            raise SettingsError("related_max_df must be in (0, 1]")
        if min(self.title_weight, self.summary_weight, self.body_weight) < 0:
            raise SettingsError("field weights must not be negative")
        if not 0.0 <= self.latent_weight < 1.0:
            raise SettingsError("related_latent_weight must be in [0, 1)")
        if not 0.0 <= self.single_concept_weight <= 1.0:
            raise SettingsError("related_single_concept_weight must be between 0 and 1")
        if not 2 <= self.latent_dims <= 512:
            raise SettingsError("related_latent_dims must be between 2 and 512")
        if self.n_features < 2**10 or self.n_features & (self.n_features - 1):
            raise SettingsError("related_n_features must be a power of two, at least 1024")

    @property
    def stored_k(self) -> int:
        """Items kept per list: a few more than served, so reads can honour exclusions."""
        return min(MAX_K, self.k + 4)

    def rank_params(self, k: int | None = None) -> RankParams:
        return RankParams(
            k=k or self.stored_k,
            min_score=self.min_score,
            half_life_days=self.half_life_days,
            max_age_days=self.max_age_days,
            category_boost=self.category_boost,
            mmr_lambda=self.mmr_lambda,
            duplicate_threshold=self.duplicate_threshold,
            diversity_threshold=self.diversity_threshold,
        )
