"""The text analyzer: Unicode forms, tone styles, syllable bigrams, stopwords, English."""

from __future__ import annotations

import unicodedata

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from recommender.analyzer import TextAnalyzer
from recommender.tone import canonical_syllable


@pytest.fixture
def analyze() -> TextAnalyzer:
    return TextAnalyzer()


def test_decomposed_input_gives_the_same_terms(analyze: TextAnalyzer) -> None:
    text = "Sức khỏe người cao tuổi ở Thủy Nguyên"
    assert analyze(unicodedata.normalize("NFD", text)) == analyze(text)


@pytest.mark.parametrize(
    ("old", "new"),
    [("hòa", "hoà"), ("thủy", "thuỷ"), ("khỏe", "khoẻ"), ("hóa", "hoá"), ("ủy", "uỷ")],
)
def test_both_tone_styles_are_one_term(old: str, new: str) -> None:
    assert canonical_syllable(new) == canonical_syllable(old) == old


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("quý", "quý"),  # qu- onset: the tone stays on y
        ("qúy", "quý"),
        ("giữ", "giữ"),  # gi- onset
        ("người", "người"),  # ươ carries the tone on ơ
        ("hoàng", "hoàng"),  # closed syllable: on the last vowel in both styles
        ("baỏ", "bảo"),  # misplaced mark repaired
        ("nghịêm", "nghiệm"),
        ("ngoái", "ngoái"),
        ("café", "café"),  # not a Vietnamese syllable: untouched
    ],
)
def test_tone_placement(typed: str, canonical: str) -> None:
    assert canonical_syllable(typed) == canonical


def test_mixed_styles_in_text_match(analyze: TextAnalyzer) -> None:
    assert analyze("Hoà bình và sức khoẻ") == analyze("Hòa bình và sức khỏe")


def test_syllable_bigrams_stand_for_compound_words(analyze: TextAnalyzer) -> None:
    terms = analyze("Thuế thu nhập cá nhân tăng")
    assert {"thu nhập", "cá nhân", "thuế thu"} <= set(terms)
    assert {"thuế", "thu", "nhập", "cá", "nhân", "tăng"} <= set(terms)


def test_bigrams_do_not_cross_punctuation_or_numbers(analyze: TextAnalyzer) -> None:
    terms = set(analyze("Hà Nội, Hải Phòng. Ngày 23 tháng 9 giá 1.000 đồng"))
    assert "nội hải" not in terms
    assert "phòng ngày" not in terms
    assert "ngày tháng" not in terms
    assert "giá đồng" not in terms
    assert "hà nội" in terms and "hải phòng" in terms


def test_numbers_other_than_years_are_dropped(analyze: TextAnalyzer) -> None:
    terms = analyze("Năm 2024 có 1.000 người, tăng 2,5%")
    assert "2024" in terms and "năm 2024" in terms
    assert not any(t in terms for t in ("1.000", "2,5", "1", "000"))


def test_function_words_dropped_content_words_kept(analyze: TextAnalyzer) -> None:
    terms = analyze("Người dân của thành phố đã được nhận nhà trong năm")
    assert "của" not in terms and "đã" not in terms and "được" not in terms
    assert {"người", "nhà", "năm", "người dân"} <= set(terms)
    # a bigram with one function word survives: compounds such as "cho phép"
    assert "cho phép" in analyze("Bộ cho phép thí điểm")


def test_english_is_stemmed_without_stopwords(analyze: TextAnalyzer) -> None:
    terms = analyze.analyze("The company's profits jumped, running faster", "en")
    assert "the" not in terms
    assert {"compani", "profit", "jump", "run", "compani profit"} <= set(terms)
    assert "jump run" not in terms  # the comma ends the phrase


def test_composes_with_scikit_learn() -> None:
    vectorizer = TfidfVectorizer(analyzer=TextAnalyzer(ngram_range=(1, 1)))
    matrix = vectorizer.fit_transform(["Hoà bình", "hòa bình"])
    assert matrix.shape == (2, 2)
    assert (matrix[0] != matrix[1]).nnz == 0
    assert TextAnalyzer(language="en").get_params()["language"] == "en"
