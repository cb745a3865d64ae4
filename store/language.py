"""Which language a text is in: the code of a declared tag, or a guess from its letters.

Ingestion labels each article with it; the recommender's evaluation labels its corpus the same
way, so both sit on this bottom-level helper.
"""

from __future__ import annotations

import re

_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_VI_LETTERS = re.compile(
    "[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]", re.I
)
_LETTERS = re.compile(r"[^\W\d_]", re.U)


def language_code(declared: str | None) -> str | None:
    """The ISO 639 code of a language tag or locale ("vi-VN", "vi_VN" -> "vi"), else None."""
    if not declared:
        return None
    code = declared.strip().lower().split("-")[0].split("_")[0]
    return code if _LANGUAGE_CODE.fullmatch(code) else None


def guess_language(text: str, default: str = "vi") -> str:
    """'vi' when Vietnamese letters are common, 'en' for long plain-Latin text, else default."""
    letters = len(_LETTERS.findall(text[:2000]))
    if letters < 40:
        return default
    vi = len(_VI_LETTERS.findall(text[:2000]))
    if vi / letters > 0.03:
        return "vi"
    if vi == 0:
        return "en"
    return default
