"""/openapi.json against the real application on a real SQLite file.

The document must be valid OpenAPI 3.1, describe every route Flask serves and nothing else, and
hold when schemathesis drives every operation (with the write API's token, so writes happen
too): no 5xx, documented status codes, content types, headers and bodies, invalid input refused
and valid input accepted.
"""

from __future__ import annotations

import copy
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import schemathesis
from flask import Flask
from hypothesis import Phase, settings
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from schemathesis import engine
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine import Status, events
from schemathesis.engine.run import PhaseName
from schemathesis.generation.meta import TestPhase

from feeds.ingest.push import MAX_CATEGORY_LENGTH
from feeds.ingest.text import slugify
from service.config import load_settings
from service.http.app import create_app
from service.http.contract.body import MAX_BODY
from service.http.contract.operations import declared
from service.http.contract.query import encode_cursor
from store.models import RelatedItem
from tests.support.env import FUZZ_PROFILE, fixture_bytes

TOKEN = "openapi-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "https://news.example.vn"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
FEEDS = {
    "the-thao": ["the-thao.rss", "publish-vi.rss"],
    "the-gioi": ["world.atom"],
    "cong-nghe": ["xss.rss", "blog.atom03"],
}
# Per operation and mode: about 30-40 s for the whole run in CI; QUANTAM_FUZZ_PROFILE=deep digs.
MAX_EXAMPLES = {"deep": 1000}.get(FUZZ_PROFILE, 40)
FAILED = {Status.FAILURE, Status.ERROR, Status.INTERRUPTED}
FORMATS = Draft202012Validator.FORMAT_CHECKER
# Without it jsonschema skips date-time checks silently (openapi-spec-validator brings it).
assert "date-time" in FORMATS.checkers


def make_app(path: Path) -> Flask:
    """An app on a fresh SQLite file with real feeds ingested, related lists stored, a source,
    and articles pushed through the CMS path that the run may take down."""
    config = load_settings(
        environ={}, store=f"sqlite:///{path / 'q.db'}", base_url=BASE, api_token=TOKEN
    )
    app = create_app(config)
    quantam = app.extensions["quantam"]
    for category, names in FEEDS.items():
        quantam.ingestor.ensure_category(category)
        for name in names:
            report = quantam.ingestor.ingest_bytes(
                fixture_bytes(name), target=f"https://src.example.vn/{name}", category=category
            )
            assert report.ok, report.error
    articles = list(quantam.store.iter_articles())
    quantam.store.put_related(
        {
            a.id: [
                RelatedItem(b.id, round(0.9 - n / 10, 2), reason=("bóng đá",), fill=n > 2)
                for n, b in enumerate(x for x in articles if x.id != a.id)
            ]
            for a in articles
        }
    )
    quantam.ingestor.add_source("https://vnexpress.net/rss/the-thao.rss", "the-thao")
    disposable = [
        quantam.push_article(
            {
                "url": f"https://cms.example.vn/tam-thoi/{n}",
                "title": f"Bài tạm thời {n}",
                "category": "tam-thoi",
                "published": "0001-01-01T00:00:00+07:00" if n == 0 else None,
            }
        ).article.id
        for n in range(3)
    ]
    app.config["TEST_ARTICLE_IDS"] = [a.id for a in articles]
    app.config["TEST_ARTICLE_URLS"] = [a.url for a in articles]
    app.config["TEST_DISPOSABLE_IDS"] = disposable
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("openapi"))
    yield app
    app.extensions["quantam"].close()


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


def test_document_is_valid_openapi_3_1(client: Any) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": BASE}]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get("/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def _concrete(path: str, app: Flask) -> str:
    """A documented path template with known values filled in."""
    values = {
        "slug": "all" if path.startswith("/feeds/") else "the-thao",
        "article_id": app.config["TEST_ARTICLE_IDS"][0],
        "source_id": "1",
        "token": "no-such-subscription",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for template, item in document["paths"].items():
        for method in sorted(item.keys() & HTTP_METHODS):
            yield template, method.upper(), item[method]


def test_every_route_is_documented_and_every_documented_path_exists(
    app: Flask, client: Any
) -> None:
    document = client.get("/openapi.json").get_json()
    adapter = app.url_map.bind("news.example.vn")
    documented = set()
    for template, method, operation in _operations(document):
        path = _concrete(template, app)
        rule, _ = adapter.match(path, method=method, return_rule=True)
        documented.add((rule.rule, method))
        if method == "GET":
            # Reads need no token; the write API's GET needs one. Known values answer 200.
            headers = AUTH if operation.get("security") else {}
            query = "?url=" + quote(app.config["TEST_ARTICLE_URLS"][0], safe="")
            answer = client.get(path + query, headers=headers)
            # no subscription here: the callback is exercised against a real hub in
            # tests/service/test_websub_subscriber.py
            expected = 404 if template.startswith("/websub/") else 200
            assert answer.status_code == expected, (template, answer.status_code)
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        # The console's pages are declared unpublished: HTML for people behind a sign-in
        # (tests/service/http/test_console*.py), not the API.
        if all(op.published for op in declared(app.view_functions[rule.endpoint]))
    }
    assert documented == served


def _is_problem(response: Any, status: int) -> bool:
    body = response.get_json(force=True)
    return (
        response.status_code == status
        and response.mimetype == "application/problem+json"
        and body["status"] == status
        and {"type", "title"} <= body.keys()
    )


def test_write_operations_refuse_missing_and_wrong_tokens(app: Flask, client: Any) -> None:
    document = client.get("/openapi.json").get_json()
    secured = [(t, m, op) for t, m, op in _operations(document) if op.get("security")]
    assert {(t, m) for t, m, _ in secured} == {
        ("/api/articles", "POST"),
        ("/api/articles/{article_id}", "DELETE"),
        ("/api/articles/{article_id}/overrides", "GET"),
        ("/api/articles/{article_id}/overrides", "PUT"),
        ("/api/sources", "GET"),
        ("/api/sources", "POST"),
        ("/api/sources/{source_id}", "PATCH"),
        ("/api/sources/{source_id}", "DELETE"),
    }
    for template, method, operation in secured:
        path = _concrete(template, app)
        missing = client.open(path, method=method, json={})
        assert _is_problem(missing, 401) and missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = client.open(path, method=method, json={}, headers={"Authorization": "Bearer x"})
        assert _is_problem(wrong, 403)
        assert {"401", "403"} <= operation["responses"].keys()


def test_bodies_too_large_not_json_or_conflicting_are_refused_as_documented(
    client: Any,
) -> None:
    document = client.get("/openapi.json").get_json()
    with_body = [
        (t, m, op)
        for t, m, op in _operations(document)
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert len(with_body) == 5  # push, add and edit a source, beacons, put overrides
    source = {"url": "https://thanhnien.vn/rss/the-thao.rss", "category": "the-thao"}
    created = client.post("/api/sources", json=source, headers=AUTH)
    for template, method, operation in with_body:
        assert {"400", "413", "415"} <= operation["responses"].keys()
        path = template.replace("{source_id}", str(created.get_json()["id"]))
        huge = b" " * (MAX_BODY + 1)
        too_large = client.open(
            path, method=method, data=huge, content_type="application/json", headers=AUTH
        )
        assert _is_problem(too_large, 413)
        not_json = client.open(path, method=method, data="url=x", headers=AUTH)
        assert _is_problem(not_json, 415)
        not_object = client.open(path, method=method, json=[1], headers=AUTH)
        assert _is_problem(not_object, 400)
    conflict = client.post("/api/sources", json=source, headers=AUTH)
    assert _is_problem(conflict, 409)
    assert conflict.get_json()["source_id"] == created.get_json()["id"]
    assert "409" in document["paths"]["/api/sources"]["post"]["responses"]


def _closed(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every object schema that leaves extra properties open closed to them.

    The published document leaves response objects open so that fields can be added without
    breaking clients; the test holds the code to exactly the documented fields."""
    strict = copy.deepcopy(document)
    for schema in strict["components"]["schemas"].values():
        stack = [schema]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if "properties" in node and "additionalProperties" not in node:
                    node["additionalProperties"] = False
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return strict


@pytest.fixture(scope="module")
def api_schema(app: Flask) -> Any:
    document = _closed(app.test_client().get("/openapi.json").get_json())
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    # The in-process transport hands back bodies as sent, so ask for them unencoded; gzip is
    # tested in test_api.py and test_feed_http.py.
    schema.config.update(headers={**AUTH, "Accept-Encoding": "identity"})
    schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")
    # ignored_auth re-sends requests without the session the in-process transport needs
    # (schemathesis 4.32 passes it `max_redirects`, which werkzeug refuses);
    # test_write_operations_refuse_missing_and_wrong_tokens covers the same ground.
    schema.config.checks.update(excluded_check_names=["ignored_auth"])
    known = Known(
        ids=app.config["TEST_ARTICLE_IDS"],
        urls=app.config["TEST_ARTICLE_URLS"],
        disposable=app.config["TEST_DISPOSABLE_IDS"],
        slugs=[*FEEDS, "all", "tam-thoi"],
    )

    wire = Wire(document)

    @schema.hook
    def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
        """Drop "invalid data accepted" when the data was not invalid as sent: schemathesis
        mutates query values in ways that vanish on the wire (false as an array is `false`, a
        one-item list of strings) or names a mutated parameter it then leaves out."""
        if not isinstance(failure, AcceptedNegativeData) or case.meta is None:
            return True
        others = set(ParameterLocation) - {ParameterLocation.QUERY}
        if any(case.meta.is_negative_at(location) for location in others):
            return True
        return not wire.query_is_valid(case.operation.path, case.method, response.request.url)

    @schema.hook
    def map_case(context: Any, case: Any) -> Any:
        """Positive cases get values the schema cannot describe: known ids, slugs and page URLs
        (so that reads answer 200 with real bodies), cursors this service issued, http(s) URLs
        and categories that make a slug. Negative cases are left exactly as generated."""
        if case.meta is not None and case.meta.generation.mode.is_positive:
            known.apply(case)
        return case

    return schema


class Wire:
    """Query strings judged the way quantam reads them: every value is text, a list is
    comma-separated, an optional parameter sent empty is absent, a scalar is sent once."""

    def __init__(self, document: dict[str, Any]):
        self.document = document

    def _parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        item = self.document["paths"][path]
        found = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
        named = self.document["components"].get("parameters", {})
        return [named[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p for p in found]

    def query_is_valid(self, path: str, method: str, url: str) -> bool:
        sent = parse_qs(urlsplit(url).query, keep_blank_values=True)
        for parameter in self._parameters(path, method):
            if parameter["in"] != "query":
                continue
            schema, values = parameter["schema"], sent.get(parameter["name"])
            if values is None or (values == [""] and parameter.get("allowEmptyValue")):
                if parameter.get("required"):
                    return False
                continue
            if schema.get("type") == "array":
                value: Any = [v for raw in values for v in raw.split(",")]
            elif len(values) > 1:
                return False
            elif schema.get("type") == "integer":
                if not re.fullmatch(r"-?[0-9]+", values[0]):
                    return False
                value = int(values[0])
            else:
                value = values[0]
            if not Draft202012Validator(schema, format_checker=FORMATS).is_valid(value):
                return False
        return True


@dataclass(frozen=True)
class Known:
    """What the test app holds, for turning generated values into meaningful ones."""

    ids: list[str]
    urls: list[str]
    disposable: list[str]
    slugs: list[str]

    def apply(self, case: Any) -> None:
        # Half the cases name something that exists, chosen by the generated data itself.
        n = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
        known = n % 2 == 0
        # The stateful phase fills path parameters from earlier responses: keep those.
        params = {} if case.meta.phase.name == TestPhase.STATEFUL else case.path_parameters or {}
        if known and "article_id" in params:
            ids = self.disposable if case.method.upper() == "DELETE" else self.ids
            params["article_id"] = ids[n % len(ids)]
        if known and "slug" in params:
            params["slug"] = self.slugs[n % len(self.slugs)]
        query = case.query or {}
        for name, value in query.items():
            # A whole float is an integer to JSON Schema, but "10.0" in a URL is not.
            if isinstance(value, float) and value.is_integer():
                query[name] = int(value)
        for name in ("cursor", "before"):
            if isinstance(query.get(name), str) and query[name].strip():
                moment = datetime(2024, 5, 21, n % 24, tzinfo=UTC)
                query[name] = encode_cursor((moment, query[name][:20]))
        if isinstance(query.get("url"), str):
            query["url"] = (
                self.urls[n % len(self.urls)] + "?utm_source=openapi"
                if known
                else f"https://bao.example.vn/{quote(query['url'][:200])}"
            )
        body = case.body if isinstance(case.body, dict) else {}
        if isinstance(body.get("url"), str):
            body["url"] = f"https://cms.example.vn/{n}/{quote(body['url'][:200])}"
        if isinstance(body.get("category"), str) and not slugify(body["category"]):
            # still within the length the document allows
            body["category"] = (body["category"] + self.slugs[n % len(self.slugs)])[
                -MAX_CATEGORY_LENGTH:
            ]
        if isinstance(body.get("title"), str) and not body["title"].strip():
            body["title"] += "Tiêu đề"


def _failures(event: Any) -> list[str]:
    """What went wrong in one engine event, with a curl command to replay each failure."""
    if isinstance(event, events.ScenarioFinished) and event.status in FAILED:
        found = [
            f"{event.recorder.label}: {check.failure_info.failure.title}\n"
            f"{check.failure_info.failure.message}\n{check.failure_info.code_sample}"
            for checks in event.recorder.checks.values()
            for check in checks
            if check.failure_info is not None
        ]
        return found or [f"{event.recorder.label}: {event.status} ({event.skip_reason})"]
    if isinstance(event, events.NonFatalError):
        return [f"{event.label}: {event.info}"]
    if isinstance(event, events.FatalError):
        return [f"schemathesis stopped: {event.exception!r}"]
    if isinstance(event, events.EngineFinished):
        return [f"{f.title}: {f.message}" for f in event.failures]
    return []


@contextmanager
def _untargeted() -> Iterator[None]:
    """Fuzz without Hypothesis's target phase. schemathesis feeds hypothesis.target() a success
    rate, and hill-climbing on it re-runs generation thousands of times without sending a
    request: one operation could take minutes. A loaded profile's phases reach the engine."""
    untargeted = [phase for phase in Phase if phase is not Phase.target]
    settings.register_profile("openapi", settings(settings.default, phases=untargeted))
    settings.load_profile("openapi")
    try:
        yield
    finally:
        settings.load_profile(FUZZ_PROFILE)


@pytest.mark.timeout(300)
def test_api_conforms_to_its_document(api_schema: Any, client: Any) -> None:
    """schemathesis run, in process: examples, coverage (boundaries and invalid values of every
    parameter), fuzzing of every operation and stateful sequences, with every check."""
    with _untargeted():
        events_ = list(engine.from_schema(api_schema).execute())
    failures = [f for event in events_ for f in _failures(event)]
    assert not failures, "\n\n".join(failures)
    fuzzed = {
        event.recorder.label
        for event in events_
        if isinstance(event, events.ScenarioFinished)
        and event.phase == PhaseName.FUZZING
        and event.status == Status.SUCCESS
    }
    document = client.get("/openapi.json").get_json()
    assert fuzzed == {f"{method} {template}" for template, method, _ in _operations(document)}
