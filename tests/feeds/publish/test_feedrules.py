"""The offline W3C rules catch what the W3C Feed Validation Service reports.

Each case starts from a small valid document and breaks one thing; the checker must name the
validator's message for it. Without these, a checker that reports nothing would look perfect.
"""

from __future__ import annotations

import json

import pytest

from tests.support.feedrules import ERROR, WARNING, check_feed, check_json_feed

LOCATION = "https://quantam.example/feeds/thoi-su.rss"

RSS = """<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <title>Thời sự</title>
    <link>https://quantam.example/thoi-su</link>
    <description>Tin mới</description>
    <atom:link href="https://quantam.example/feeds/thoi-su.rss" rel="self"
               type="application/rss+xml"/>
    <language>vi</language>
    <lastBuildDate>Mon, 21 Nov 2022 02:00:00 +0000</lastBuildDate>
    <item>
      <title>Hà Nội mở thêm buýt điện</title>
      <link>https://tintuc.example.vn/a-1.html</link>
      <description>Ba tuyến mới.</description>
      <content:encoded>&#x3C;p&gt;Xem &#x3C;a href="https://tintuc.example.vn/b.html"&gt;bài&#x3C;/a&gt;
      &#x3C;/p&gt;</content:encoded>
      <guid isPermaLink="true">https://tintuc.example.vn/a-1.html</guid>
      <dc:creator>Nguyễn Văn An</dc:creator>
      <pubDate>Mon, 21 Nov 2022 02:00:00 +0000</pubDate>
      <enclosure url="https://cdn.example.vn/a.jpg" length="0" type="image/jpeg"/>
      <media:thumbnail url="https://cdn.example.vn/a.jpg"/>
      <atom:link rel="related" href="https://tintuc.example.vn/b.html" title="Bài liên quan"/>
    </item>
  </channel>
</rss>
"""

ATOM = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">
  <id>https://quantam.example/feeds/thoi-su.atom</id>
  <title>Thời sự</title>
  <updated>2022-11-21T02:00:00.5+00:00</updated>
  <author><name>quantam</name></author>
  <link href="https://quantam.example/feeds/thoi-su.rss" rel="self" type="application/atom+xml"/>
  <entry>
    <id>https://tintuc.example.vn/a-1.html</id>
    <title>Hà Nội mở thêm buýt điện</title>
    <updated>2022-11-21T02:00:00.5+00:00</updated>
    <link href="https://tintuc.example.vn/a-1.html"/>
    <summary>Ba tuyến mới.</summary>
  </entry>
  <entry>
    <id>https://tintuc.example.vn/a-2.html</id>
    <title>Giá xăng giảm</title>
    <updated>2022-11-21T02:00:00.25+00:00</updated>
    <link href="https://tintuc.example.vn/a-2.html"/>
    <content type="html">&#x3C;p&gt;Giá mới&#x3C;/p&gt;</content>
  </entry>
</feed>
"""


def rules(body: str, location: str = LOCATION) -> set[tuple[str, str]]:
    return {(f.level, f.rule) for f in check_feed(body.encode(), location)}


def test_the_baselines_are_clean() -> None:
    assert rules(RSS) == set()
    assert rules(ATOM) == set()


@pytest.mark.parametrize(
    ("old", "new", "level", "rule"),
    [
        (
            '<atom:link href="https://quantam.example/feeds/thoi-su.rss" rel="self"\n'
            '               type="application/rss+xml"/>',
            "",
            WARNING,
            "MissingAtomSelfLink",
        ),
        (
            '<guid isPermaLink="true">https://tintuc.example.vn/a-1.html</guid>',
            "",
            WARNING,
            "MissingGuid",
        ),
        (
            '<guid isPermaLink="true">https://tintuc.example.vn/a-1.html</guid>',
            '<guid isPermaLink="true">a-1</guid>',
            ERROR,
            "InvalidHttpGUID",
        ),
        (
            '<guid isPermaLink="true">https://tintuc.example.vn/a-1.html</guid>',
            '<guid isPermaLink="false">1002</guid>',
            WARNING,
            "NotSufficientlyUnique",
        ),
        (
            '<guid isPermaLink="true">https://tintuc.example.vn/a-1.html</guid>',
            '<guid isPermaLink="true">urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301</guid>',
            ERROR,
            "InvalidPermalink",
        ),
        (
            "<pubDate>Mon, 21 Nov 2022 02:00:00 +0000</pubDate>",
            "<pubDate>2022-11-21T02:00:00Z</pubDate>",
            ERROR,
            "InvalidRFC2822Date",
        ),
        (
            "<pubDate>Mon, 21 Nov 2022 02:00:00 +0000</pubDate>",
            "<pubDate>Tue, 21 Nov 2022 02:00:00 +0000</pubDate>",
            ERROR,
            "IncorrectDOW",
        ),
        (
            "<pubDate>Mon, 21 Nov 2022 02:00:00 +0000</pubDate>",
            "<pubDate>Mon, 21 Nov 2022 02:00 GMT+7</pubDate>",
            ERROR,
            "InvalidRFC2822Date",
        ),
        (
            "<pubDate>Mon, 21 Nov 2022 02:00:00 +0000</pubDate>",
            "<pubDate>Mon, 21 Nov 2022 02:00:00 +0700 +0700</pubDate>",
            ERROR,
            "InvalidRFC2822Date",
        ),
        (
            "<pubDate>Mon, 21 Nov 2022 02:00:00 +0000</pubDate>",
            "<pubDate>Sat, 21 Nov 2099 02:00:00 +0000</pubDate>",
            WARNING,
            "ImplausibleDate",
        ),
        (
            'href="https://tintuc.example.vn/b.html"&gt;',
            'href="/b.html"&gt;',
            WARNING,
            "ContainsRelRef",
        ),
        (
            "&#x3C;p&gt;Xem",
            "&#x3C;script&gt;alert(1)&#x3C;/script&gt;&#x3C;p&gt;Xem",
            WARNING,
            "SecurityRisk",
        ),
        ("&#x3C;p&gt;Xem", '&#x3C;p style="position: fixed"&gt;Xem', WARNING, "DangerousStyleAttr"),
        ("&#x3C;p&gt;Xem", "&#x3C;p onclick=x&gt;Xem", WARNING, "SecurityRiskAttr"),
        (
            "&#x3C;p&gt;Xem",
            "&#x3C;bdo dir=rtl&gt;x&#x3C;/bdo&gt;&#x3C;p&gt;Xem",
            WARNING,
            "SecurityRisk",
        ),
        ("&#x3C;p&gt;Xem", "&#x3C;p&gt;&#x3C;/div&gt;Xem", WARNING, "NotHtml"),
        ('length="0"', 'length="-1"', ERROR, "UseZeroForUnknown"),
        ('length="0" ', "", ERROR, "MissingAttribute"),
        ('type="image/jpeg"/>', 'type="jpeg"/>', ERROR, "InvalidMIMEAttribute"),
        (
            '<media:thumbnail url="https://cdn.example.vn/a.jpg"/>',
            '<media:group><media:content url="https://cdn.example.vn/a.jpg"/></media:group>',
            ERROR,
            "MediaGroupWithoutAlternatives",
        ),
        (
            '<media:thumbnail url="https://cdn.example.vn/a.jpg"/>',
            '<media:thumbnail url="https://cdn.example.vn/a.jpg" width="0"/>',
            ERROR,
            "InvalidPositiveInteger",
        ),
        (
            "<dc:creator>Nguyễn Văn An</dc:creator>",
            "<author>an@tintuc.example.vn</author>",
            WARNING,
            "MissingRealName",
        ),
        (
            "<dc:creator>Nguyễn Văn An</dc:creator>",
            "<dc:creator>An</dc:creator><author>an@tintuc.example.vn (An)</author>",
            WARNING,
            "DuplicateItemSemantics",
        ),
        (
            "<title>Hà Nội mở thêm buýt điện</title>",
            "<title>Hà Nội &amp;amp; buýt &lt;b&gt;điện</title>",
            WARNING,
            "ContainsHTML",
        ),
        (
            "<title>Hà Nội mở thêm buýt điện</title>",
            "<title>Hà Nội &lt;b&gt; điện</title>",
            WARNING,
            "CharacterData",
        ),
        (
            "<title>Hà Nội mở thêm buýt điện</title>",
            "<title>Hà Nội <b>điện</b></title>",
            ERROR,
            "UndefinedElement",
        ),
        ("<description>Ba tuyến mới.</description>", "", WARNING, "NeedDescriptionBeforeContent"),
        ("</item>", "<foo>x</foo></item>", ERROR, "UndefinedElement"),
        (
            'xmlns:dc="http://purl.org/dc/elements/1.1/"',
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:q="https://quantam.example/ns"',
            WARNING,
            "UnknownNamespace",
        ),
        (
            'xmlns:media="http://search.yahoo.com/mrss/"',
            'xmlns:media="http://search.yahoo.com/mrss"',
            ERROR,
            "MediaRssNamespace",
        ),
        ("<language>vi</language>", "<language>vietnamese</language>", ERROR, "InvalidLanguage"),
        (
            "<link>https://tintuc.example.vn/a-1.html</link>",
            "<link>https://tintuc.example.vn/bài-1.html</link>",
            ERROR,
            "UriNotIri",
        ),
        (
            "<link>https://tintuc.example.vn/a-1.html</link>",
            "<link>https://tintuc.example.vn/a 1.html</link>",
            ERROR,
            "InvalidUriChar",
        ),
        ('rel="related"', 'rel="see-also"', WARNING, "UnregisteredAtomLinkRel"),
        (
            "<language>vi</language>",
            "<language>vi</language><ttl>0</ttl>",
            ERROR,
            "InvalidPositiveInteger",
        ),
        (
            "<title>Thời sự</title>",
            "<title>Thời sự</title><title>Tin</title>",
            ERROR,
            "DuplicateElement",
        ),
        ("</channel>", "<language>vi</language></channel>", WARNING, "MisplacedItem"),
        ("</rss>", "", ERROR, "SAXError"),
    ],
)
def test_rss_rules(old: str, new: str, level: str, rule: str) -> None:
    assert old in RSS
    assert (level, rule) in rules(RSS.replace(old, new, 1))


def test_duplicate_guid_is_an_error() -> None:
    start, end = RSS.index("<item>"), RSS.index("</item>") + len("</item>")
    doubled = RSS[:end] + RSS[start:end] + RSS[end:]
    assert (ERROR, "DuplicateValue") in rules(doubled)


def test_self_link_must_be_where_the_feed_is() -> None:
    assert (WARNING, "SelfDoesntMatchLocation") in rules(RSS, "https://quantam.example/other.rss")


@pytest.mark.parametrize(
    ("old", "new", "level", "rule"),
    [
        (
            "<updated>2022-11-21T02:00:00.25+00:00</updated>",
            "<updated>2022-11-21T02:00:00.5+00:00</updated>",
            WARNING,
            "DuplicateUpdated",
        ),
        (
            "<id>https://tintuc.example.vn/a-2.html</id>",
            "<id>https://tintuc.example.vn/a-1.html</id>",
            WARNING,
            "DuplicateEntries",
        ),
        ("<author><name>quantam</name></author>", "", ERROR, "MissingElement"),
        (
            "<id>https://tintuc.example.vn/a-1.html</id>",
            "<id>HTTPS://Tintuc.example.vn/a-1.html</id>",
            WARNING,
            "NonCanonicalURI",
        ),
        ("<id>https://tintuc.example.vn/a-1.html</id>", "<id>1001</id>", ERROR, "InvalidFullLink"),
        (
            "<updated>2022-11-21T02:00:00.25+00:00</updated>",
            "<updated>2022-11-21T02:00:00</updated>",
            ERROR,
            "InvalidRFC3339Date",
        ),
        (
            "<updated>2022-11-21T02:00:00.25+00:00</updated>",
            "<updated>Mon, 21 Nov 2022 02:00:00 +0000</updated>",
            ERROR,
            "InvalidRFC3339Date",
        ),
        ("<summary>Ba tuyến mới.</summary>", "", WARNING, "MissingTextualContent"),
        (
            '<link href="https://tintuc.example.vn/a-1.html"/>\n    <summary>',
            "<summary>",
            ERROR,
            "MissingContentOrAlternate",
        ),
        (
            '<link href="https://quantam.example/feeds/thoi-su.rss" rel="self" '
            'type="application/atom+xml"/>',
            "",
            WARNING,
            "MissingSelf",
        ),
        (
            '<link href="https://tintuc.example.vn/a-1.html"/>',
            '<link href="https://tintuc.example.vn/a-1.html"/><link href="https://x.vn/"/>',
            ERROR,
            "DuplicateAtomLink",
        ),
        (
            '<link href="https://tintuc.example.vn/a-1.html"/>',
            '<link href="https://tintuc.example.vn/a-1.html"/><link rel="next" href="https://x.vn/"/>',
            WARNING,
            "FeedHistoryRelInEntry",
        ),
        (
            "<summary>Ba tuyến mới.</summary>",
            "<summary>Ba &lt;/b&gt; mới.</summary>",
            WARNING,
            "ContainsUndeclaredHTML",
        ),
        (
            "&#x3C;p&gt;Giá mới&#x3C;/p&gt;",
            '&#x3C;img src="anh.jpg"&gt;',
            WARNING,
            "ContainsRelRef",
        ),
        (
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">',
            '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">'
            "\n  <entry><id>urn:x</id></entry>",
            ERROR,
            "InvalidURN",
        ),
        (
            "<title>Thời sự</title>",
            "<title>Thời sự</title><subtitle type='markdown'>x</subtitle>",
            ERROR,
            "InvalidTextType",
        ),
    ],
)
def test_atom_rules(old: str, new: str, level: str, rule: str) -> None:
    assert old in ATOM
    assert (level, rule) in rules(
        ATOM.replace(old, new, 1), "https://quantam.example/feeds/thoi-su.rss"
    )


def test_opml_rules() -> None:
    good = (
        '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>Feeds</title>'
        '</head><body><outline text="Thời sự"><outline type="rss" text="Thời sự" title="Thời sự"'
        ' xmlUrl="https://quantam.example/feeds/thoi-su.rss"/></outline></body></opml>'
    )
    assert rules(good) == set()
    assert (WARNING, "MissingOutlineType") in rules(
        good.replace('text="Thời sự">', 'text="Thời sự" title="Thời sự">', 1)
    )
    assert (WARNING, "MissingXmlURL") in rules(
        good.replace(' xmlUrl="https://quantam.example/feeds/thoi-su.rss"', "")
    )
    assert (ERROR, "InvalidOPMLVersion") in rules(good.replace('version="2.0"', 'version="3"'))


def json_rules(feed: dict) -> set[str]:
    return {f.rule for f in check_json_feed(json.dumps(feed).encode())}


def test_json_feed_rules() -> None:
    item = {
        "id": "https://tintuc.example.vn/a-1.html",
        "url": "https://tintuc.example.vn/a-1.html",
        "content_text": "Ba tuyến mới.",
        "date_published": "2022-11-21T02:00:00+00:00",
    }
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Thời sự", "items": [item]}
    assert json_rules(feed) == set()
    assert "InvalidVersion" in json_rules({**feed, "version": "1.1"})
    assert "MissingContent" in json_rules({**feed, "items": [{"id": "x"}]})
    assert "DuplicateId" in json_rules({**feed, "items": [item, item]})
    assert "InvalidURL" in json_rules({**feed, "home_page_url": "/thoi-su"})
    assert "InvalidRFC3339Date" in json_rules(
        {**feed, "items": [{**item, "date_published": "21/11/2022"}]}
    )
    assert "UnknownKey" in json_rules({**feed, "related": []})
    assert "InvalidHub" in json_rules({**feed, "hubs": [{"url": "https://hub.example/"}]})
    assert "InvalidMimeType" in json_rules(
        {**feed, "items": [{**item, "attachments": [{"url": "https://cdn.example.vn/a.jpg"}]}]}
    )
