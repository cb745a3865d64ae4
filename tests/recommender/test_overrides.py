"""Editors' overrides applied as lists are read, over every backend, with hand-made lists."""

from __future__ import annotations

from recommender.read import related_for
from store.base import Store
from store.editorial import ListOverrides, Pin, SiteRules
from store.models import IngestBatch, RelatedItem, Teaser
from tests.support.articles import make_article


def _setup(store: Store) -> Teaser:
    """a0001 (the-thao) with a stored list a0002..a0006; a0007 (thoi-su) and a0008 (the-thao)
    are in no list."""
    arts = [make_article(n, "thoi-su" if n in (3, 7) else "the-thao") for n in range(1, 9)]
    store.commit(IngestBatch(articles=arts))
    store.put_related({"a0001": [RelatedItem(f"a000{n}", 1.0 - n / 10) for n in range(2, 7)]})
    return Teaser.of(arts[0])


def served(store: Store, owner: Teaser, k: int = 4, **kw) -> list[tuple[str, bool, bool]]:
    return [(r.article.id, r.pinned, r.item.fill) for r in related_for(store, owner, k, **kw)]


def test_pins_take_their_positions_and_keep_a_ranked_items_score(store: Store) -> None:
    owner = _setup(store)
    store.put_overrides(ListOverrides("a0001", (Pin("a0007", 1), Pin("a0005", 3))))
    got = related_for(store, owner, 4)
    assert [(r.article.id, r.pinned) for r in got] == [
        ("a0007", True),
        ("a0002", False),
        ("a0005", True),
        ("a0003", False),
    ]
    assert got[0].item == RelatedItem("a0007", 0.0) and got[2].item.score == 0.5
    # A position past the list's end puts the pin last; a pin never shows twice.
    store.put_overrides(ListOverrides("a0001", (Pin("a0007", 20),)))
    assert served(store, owner, 3) == [
        ("a0002", False, False),
        ("a0003", False, False),
        ("a0007", True, False),
    ]


def test_blocks_of_one_list_and_of_every_list(store: Store) -> None:
    owner = _setup(store)
    store.put_overrides(ListOverrides("a0001", blocks=("a0002",)))
    assert [i for i, *_ in served(store, owner)] == ["a0003", "a0004", "a0005", "a0006"]
    store.put_site_rules(SiteRules(blocked=("a0003", "a0008")))
    # The list runs short, and the fill (the category's latest) never brings a blocked one.
    assert served(store, owner, 5) == [(f"a000{n}", False, False) for n in (4, 5, 6)]
    store.put_site_rules(SiteRules(blocked=("a0003",)))
    assert served(store, owner, 5)[3] == ("a0008", False, True)
    # A pin of an article blocked from every list does not show either.
    store.put_site_rules(SiteRules(blocked=("a0008",)))
    store.put_overrides(ListOverrides("a0001", (Pin("a0008", 1),)))
    assert "a0008" not in [i for i, *_ in served(store, owner, 6)]


def test_categories_never_paired_leave_lists_but_a_request_exclusion_beats_a_pin(
    store: Store,
) -> None:
    owner = _setup(store)
    store.put_site_rules(SiteRules(never_pair=(("thoi-su", "the-thao"),)))
    assert [i for i, *_ in served(store, owner)] == ["a0002", "a0004", "a0005", "a0006"]
    store.put_overrides(ListOverrides("a0001", (Pin("a0007", 1),)))
    # An editor's explicit pin shows although its category is never paired ...
    assert served(store, owner)[0] == ("a0007", True, False)
    # ... but what the page asked to leave out stays out.
    assert "a0007" not in [i for i, *_ in served(store, owner, exclude_ids={"a0007"})]
    assert "a0007" not in [i for i, *_ in served(store, owner, exclude_categories={"thoi-su"})]


def test_overrides_survive_a_rebuilt_list_and_taken_down_pins_vanish(store: Store) -> None:
    owner = _setup(store)
    store.put_overrides(ListOverrides("a0001", (Pin("a0008", 2),), ("a0004",)))
    # What `quantam reindex` and incremental updates do: the list is replaced.
    store.put_related({"a0001": [RelatedItem(f"a000{n}", 0.9) for n in (4, 6, 5, 2)]})
    assert [(i, p) for i, p, _ in served(store, owner)] == [
        ("a0006", False),
        ("a0008", True),
        ("a0005", False),
        ("a0002", False),
    ]
    store.delete_article("a0008")
    assert "a0008" not in [i for i, *_ in served(store, owner)]
