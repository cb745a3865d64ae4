"""Vietnamese tone-mark placement: one canonical spelling per syllable, for indexing only.

Two orthographies coexist in Vietnamese news: the old placement ("hòa", "khỏe", "thủy") and the
new one ("hoà", "khoẻ", "thuỷ"). Both are valid NFC text but different code points, so TF-IDF
would see two terms and split their document frequency. `canonical_syllable` moves the tone mark
to where the old (majority, underthesea-compatible) style puts it, which also repairs typos such
as "baỏ" -> "bảo" or "nghịêm" -> "nghiệm". Stored text is never changed.
"""

from __future__ import annotations

import unicodedata

# Combining tone marks (NFD): grave, acute, tilde, hook above, dot below.
TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Combining marks that change the vowel itself: circumflex, breve, horn.
QUALITIES = frozenset("\u0302\u0306\u031b")
VOWELS = frozenset("aeiouy")
# NFC letters that carry a tone mark; a syllable without any of them needs no work.
_TONED = frozenset(
    c
    for c in (chr(i) for i in range(0x00C0, 0x1EFA))
    if c.islower() and TONES & set(unicodedata.normalize("NFD", c))
)

# Spelling variants beyond tone placement, folded through a curated list only: a blanket i/y
# rule would merge real words. Keys and values are in canonical (old-style) form.
VARIANTS = {
    "kĩ": "kỹ",
    "mĩ": "mỹ",
    "lí": "lý",
    "sỹ": "sĩ",
    "quí": "quý",
    "qui": "quy",
    "hi": "hy",
}


def has_tone(syllable: str) -> bool:
    return any(c in _TONED for c in syllable)


def canonical_syllable(syllable: str) -> str:
    """The old-style spelling of one lower-case NFC syllable; anything that does not parse as a
    single Vietnamese syllable (one run of vowels, one tone mark) is returned unchanged."""
    if has_tone(syllable):
        syllable = _place_tone(syllable)
    return VARIANTS.get(syllable, syllable)


def _place_tone(syllable: str) -> str:
    letters: list[list[str]] = []  # [base, quality marks]
    tone = ""
    tone_count = 0
    for char in unicodedata.normalize("NFD", syllable):
        if char in TONES:
            tone, tone_count = char, tone_count + 1
        elif char in QUALITIES and letters:
            letters[-1][1] += char
        elif unicodedata.combining(char):
            return syllable
        else:
            letters.append([char, ""])
    if tone_count != 1:
        return syllable
    vowel_at = [i for i, (base, _) in enumerate(letters) if base in VOWELS]
    if not vowel_at or vowel_at[-1] - vowel_at[0] + 1 != len(vowel_at):
        return syllable  # several vowel runs: not one Vietnamese syllable (e.g. "pokémon")
    first, last = vowel_at[0], vowel_at[-1]
    onset = "".join(base for base, _ in letters[:first])
    nucleus = list(range(first, last + 1))
    # "qu" and "gi" + vowel: the u / i belong to the onset and never carry the tone.
    if len(nucleus) > 1 and (
        (onset == "q" and letters[first][0] == "u") or (onset == "g" and letters[first][0] == "i")
    ):
        nucleus = nucleus[1:]
    marked = [i for i in nucleus if letters[i][1]]
    if marked:
        target = marked[-1]  # ê, ơ, ô, â, ă, ư carry the tone ("ươ" -> on ơ)
    elif last + 1 < len(letters):
        target = nucleus[-1]  # closed syllable: "hoàn", "toán"
    elif len(nucleus) == 2:
        target = nucleus[0]  # open "oa", "oe", "uy", "ai", "ua": old style "hòa", "thủy"
    else:
        target = nucleus[len(nucleus) // 2]  # "oai", "uyu": the middle vowel
    parts = []
    for i, (base, quality) in enumerate(letters):
        parts.append(base + quality + (tone if i == target else ""))
    return unicodedata.normalize("NFC", "".join(parts))
