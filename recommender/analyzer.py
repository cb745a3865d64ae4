"""Text analysis for TF-IDF: Vietnamese syllable n-grams and English word n-grams.

Vietnamese words are mostly two syllables ("thu nhập", "cá nhân") separated by spaces like words,
so the analyzer emits syllable unigrams and bigrams: bigrams stand in for compounds without a
segmenter (measured alongside unigrams in docs/recommender.md). Before that every syllable is NFC,
lower case and in one tone style (`recommender.tone`), so "Hoà", "hòa" and a decomposed "hoà"
are one term. Bigrams never cross punctuation or sentence boundaries, and numbers other than years
break them too ("ngày 23 tháng" must not become "ngày tháng").

`TextAnalyzer` follows scikit-learn's conventions: hyper-parameters in `__init__`, a stateless
`fit`, and calling it on a string gives tokens, so `TfidfVectorizer(analyzer=TextAnalyzer())`
works and pickles.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib import resources
from itertools import islice, pairwise

from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from recommender.tone import canonical_syllable

# A word, possibly with inner "." or "," before more letters/digits ("tp.hcm", "1.000", "2,5"),
# or one punctuation mark that ends a phrase.
_TOKEN = re.compile(r"[^\W_]+(?:['’.,][^\W_]+)*|[.!?;:,()\[\]{}\"“”«»…–—|/\n\t]| - ")
_NUMBER = re.compile(r"[\d.,]+")
_YEAR = re.compile(r"(?:19|20)\d\d")

LANGUAGES = ("vi", "en")
# Whitespace-separated chunk of raw text ("Nội,", "(NLĐ)") -> its index-form words, None for
# punctuation and dropped numbers; per language. Analysis is dominated by these look-ups: a news
# archive has a few hundred thousand distinct chunks, so the memo stays small.
_PIECES: dict[str, dict[str, tuple[str | None, ...]]] = {"vi": {}, "en": {}}
_PIECES_MAX = 2_000_000
# The same chunks' tokens as written (case and tone style kept), for spellings; filled lazily.
_SURFACES: dict[str, dict[str, tuple[str, ...]]] = {"vi": {}, "en": {}}
# Memo entries per language, as one process hands them to another (`pieces_since`).
PiecesMemo = dict[str, list[tuple[str, tuple[str | None, ...]]]]


def pieces_mark() -> dict[str, int]:
    """How much the analysis memo holds now, per language (see `pieces_since`)."""
    return {lang: len(pieces) for lang, pieces in _PIECES.items()}


def pieces_since(mark: dict[str, int]) -> PiecesMemo:
    """The memo entries added after `mark` (all of them if the memo was cleared meanwhile):
    what a forked worker hands back so the parent need not analyse those chunks again."""
    out = {}
    for lang, pieces in _PIECES.items():
        start = mark.get(lang, 0)
        out[lang] = list(islice(pieces.items(), start if len(pieces) >= start else 0, None))
    return out


def remember_pieces(memo: PiecesMemo) -> None:
    """Add entries from `pieces_since` (of another process) to this process's memo."""
    for lang, items in memo.items():
        pieces = _PIECES[lang]
        if len(pieces) + len(items) > _PIECES_MAX:
            continue
        pieces.update(items)


@cache
def vietnamese_stopwords() -> frozenset[str]:
    """The packaged function-word list, canonicalised like the text it is compared with."""
    text = resources.files("recommender").joinpath("data/stopwords-vi.txt").read_text("utf-8")
    words = (line.strip() for line in text.splitlines())
    terms = (_vi_term(w) for w in words if w and not w.startswith("#"))
    return frozenset(t for t in terms if t is not None)


def _vi_term(word: str) -> str | None:
    """A Vietnamese token's index form, or None for a number that is not a year."""
    if _NUMBER.fullmatch(word):
        return word if _YEAR.fullmatch(word) else None
    return canonical_syllable(word)


@cache
def _english_stemmer():  # type: ignore[no-untyped-def]
    import snowballstemmer  # 85 ms to import, for English text only

    return snowballstemmer.stemmer("english")


def normalize(text: str) -> str:
    """NFC and lower case, with look-alike letters folded: the form every token starts from."""
    text = unicodedata.normalize("NFC", text).lower()
    return text.replace("\u00f0", "đ").replace("\u2019", "'")


class TextAnalyzer(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no types
    """Turns a text into index terms: unigrams, and bigrams of adjacent words in one phrase.

    language: "vi" (syllables, tone canonicalisation, Vietnamese stopwords) or "en" (words,
        Snowball stems, scikit-learn's English stopwords); `analyze` takes it per text.
    ngram_range: (1, 1) for unigrams only, (1, 2) to add bigrams.
    stop_words: drop function words as unigrams; a bigram is dropped only when both its words
        are function words, so compounds such as "cho phép" survive.
    """

    def __init__(
        self, language: str = "vi", ngram_range: tuple[int, int] = (1, 2), stop_words: bool = True
    ):
        self.language = language
        self.ngram_range = ngram_range
        self.stop_words = stop_words

    def fit(self, raw_documents: Iterable[str] | None = None, y: object = None) -> TextAnalyzer:
        """Nothing to learn: kept so the analyzer fits in a Pipeline."""
        return self

    def transform(self, raw_documents: Iterable[str]) -> list[list[str]]:
        return [self.analyze(doc) for doc in raw_documents]

    def __call__(self, doc: str) -> list[str]:
        return self.analyze(doc)

    def analyze(self, text: str, language: str | None = None) -> list[str]:
        """The terms of one text, unigrams first then bigrams."""
        seq = self.words(text, language or self.language)
        stop = self._stop(language or self.language)
        low, high = self.ngram_range
        terms = [w for w in seq if w and w not in stop] if low <= 1 else []
        if high >= 2:
            terms += [
                f"{a} {b}" for a, b in pairwise(seq) if a and b and not (a in stop and b in stop)
            ]
        return terms

    def words(self, text: str, language: str) -> list[str | None]:
        """Index-form words in text order, None where a phrase ends (punctuation, a number)."""
        lang = "en" if language.startswith("en") else "vi"
        pieces = _PIECES[lang]
        chunks = unicodedata.normalize("NFC", text).split()
        unseen = [c for c in set(chunks) if c not in pieces]
        if unseen:
            if len(pieces) > _PIECES_MAX:
                pieces.clear()
                _SURFACES[lang].clear()
            term = _en_term if lang == "en" else _vi_term
            for chunk in unseen:
                pieces[chunk] = tuple(
                    term(t) if t[0].isalnum() else None for t in _TOKEN.findall(normalize(chunk))
                )
        return [form for chunk in chunks for form in pieces[chunk]]

    def spellings(self, text: str, language: str, out: dict[str, str], limit: int = 120) -> None:
        """Add to `out` each term of the text's first `limit` tokens (unigrams and bigrams, as
        `analyze` makes them, but none with a function word at an edge: those are never shown)
        with its spelling there, unless `out` has a plainer one: what a reason shows a reader
        ("Đà Nẵng", not the index form "đà nẵng"). Names and leads come first in a news text, so
        a headline, a lead and a body's first sentences give most terms a spelling; a term never
        spelled is shown in its index form. Call after `words` on the same text (its memo is
        read)."""
        lang = "en" if language.startswith("en") else "vi"
        pieces, surfaces = _PIECES[lang], _SURFACES[lang]
        stop = self._stop(language)
        forms: list[str | None] = []
        spelled: list[str] = []
        # ~8 characters a token: the prefix holds the first `limit` tokens, not the whole body
        for chunk in unicodedata.normalize("NFC", text[: 8 * limit]).split():
            known = pieces.get(chunk)
            if known is None:
                continue
            surface = surfaces.get(chunk)
            if surface is None:
                found = _TOKEN.findall(chunk.replace("\u00d0", "Đ").replace("\u2019", "'"))
                # lower-casing moved a token boundary (rare): no spelling for this chunk
                surface = tuple(found) if len(found) == len(known) else ("",) * len(known)
                if len(surfaces) < _PIECES_MAX:
                    surfaces[chunk] = surface
            forms.extend(known)
            spelled.extend(surface)
            if len(forms) >= limit:
                break
        last = len(forms) - 1
        for i, form in enumerate(forms):
            if not form or not spelled[i] or form in stop:
                continue
            _spell(out, form, spelled[i])
            after = forms[i + 1] if i < last else None
            if after and spelled[i + 1] and after not in stop:
                _spell(out, f"{form} {after}", f"{spelled[i]} {spelled[i + 1]}")

    def _stop(self, language: str) -> frozenset[str]:
        if not self.stop_words:
            return frozenset()
        return english_stopwords() if language.startswith("en") else vietnamese_stopwords()


def _spell(out: dict[str, str], term: str, spelling: str) -> None:
    """Keep the plainest spelling seen: a word capitalised only at a sentence start or in an
    all-capitals headline is written in lower case elsewhere; a name never is."""
    known = out.get(term)
    if known is None or (known != spelling and capitals(spelling) < capitals(known)):
        out[term] = spelling


def capitals(spelling: str) -> int:
    """2 for all capitals ("UKRAINE"), 1 for a capital first letter, 0 otherwise."""
    if spelling.isupper():
        return 2
    return 1 if spelling[:1].isupper() else 0


def english_stopwords() -> frozenset[str]:
    words: frozenset[str] = ENGLISH_STOP_WORDS
    return words


def _en_term(word: str) -> str | None:
    """An English token's index form: the Snowball stem, possessive dropped; years kept."""
    if _NUMBER.fullmatch(word):
        return word if _YEAR.fullmatch(word) else None
    word = word.removesuffix("'s")
    if word in ENGLISH_STOP_WORDS:
        return word
    stem: str = _english_stemmer().stemWord(word)
    return stem
