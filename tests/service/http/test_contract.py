"""The HTTP contract: each answer's shape is its model's, every route declares its operation,
one time format and one image shape in every answer (service/http/contract/)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask
from pydantic import BaseModel

from service.http.contract import models
from service.http.contract.document import document, undocumented
from service.http.contract.operations import declared, read
from service.http.contract.query import Int, Query, WholeNumber
from tests.service.http import test_api

AUTH = test_api.AUTH
app = test_api.app  # the fixture: an app on a real SQLite file with two feeds ingested
RFC3339_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z")


def _fields(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _holds(body: Any, model: type[BaseModel]) -> None:
    """`body` has exactly the model's fields, each of its type, nested answers too."""
    assert set(body) == _fields(model), (model.__name__, set(body) ^ _fields(model))
    model.model_validate(body)
    for name, info in model.model_fields.items():
        value = body[info.alias or name]
        inner = info.annotation
        args = getattr(inner, "__args__", ())
        nested = [a for a in (inner, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested and isinstance(value, dict):
            _holds(value, nested[0])
        elif nested and isinstance(value, list):
            for item in value:
                _holds(item, nested[0])


def _times(body: Any) -> list[str]:
    """Every value of a field that holds a time, anywhere in the body."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, str) and (
                key in ("published", "updated", "first_seen") or key.endswith(("_at", "_until"))
            ):
                found.append(value)
            else:
                found.extend(_times(value))
    elif isinstance(body, list):
        for item in body:
            found.extend(_times(item))
    return found


def test_every_answer_has_exactly_its_models_fields_and_one_time_format(app: Any) -> None:
    client = app.test_client()
    first = client.get("/api/articles").get_json()["items"][0]
    pushed = client.post(
        "/api/articles",
        json={
            "url": "https://cms.example.vn/a",
            "title": "Bài mới",
            "category": "the-thao",
            "image": "https://cms.example.vn/anh.jpg",
            "published": "2024-05-01",
        },
        headers=AUTH,
    )
    source = client.post(
        "/api/sources",
        json={"url": "https://vnexpress.net/rss/the-thao.rss", "category": "the-thao"},
        headers=AUTH,
    )
    others = [i["id"] for i in client.get("/api/articles").get_json()["items"][1:3]]
    overrides = client.put(
        f"/api/articles/{first['id']}/overrides",
        json={"pin": [{"id": others[0], "position": 2}], "block": [others[1]]},
        headers=AUTH,
    )
    answers: list[tuple[Any, type[BaseModel]]] = [
        (client.get("/api/categories").get_json(), models.CategoryList),
        (client.get("/api/categories/the-thao/latest").get_json(), models.CategoryLatest),
        (client.get("/api/articles?limit=1").get_json(), models.ArticlePage),
        (client.get(f"/api/articles/{first['id']}").get_json(), models.ArticleDetail),
        (client.get(f"/api/articles/{first['id']}/related").get_json(), models.RelatedList),
        (pushed.get_json(), models.PushResult),
        (source.get_json(), models.Source),
        (client.get("/api/sources", headers=AUTH).get_json(), models.SourceList),
        (client.get("/healthz").get_json(), models.Health),
        (overrides.get_json(), models.OverridesAnswer),
        (
            client.get(f"/api/articles/{first['id']}/overrides", headers=AUTH).get_json(),
            models.OverridesAnswer,
        ),
    ]
    times = []
    for body, model in answers:
        _holds(body, model)
        times += _times(body)
    assert len(times) > 10 and all(RFC3339_UTC.fullmatch(t) for t in times), times
    assert pushed.get_json()["published"] == "2024-04-30T17:00:00Z"


def test_an_article_gives_its_image_as_the_lists_do(app: Any) -> None:
    client = app.test_client()
    listed = {i["id"]: i["image"] for i in client.get("/api/articles").get_json()["items"]}
    with_image = [i for i, image in listed.items() if image]
    assert with_image
    for article_id in with_image:
        detail = client.get(f"/api/articles/{article_id}").get_json()
        assert detail["image"] == listed[article_id] and isinstance(detail["image"], str)


def test_every_api_route_is_declared_and_every_declared_path_is_routed(app: Any) -> None:
    assert undocumented(app) == []
    paths = document(app, "https://news.example.vn", 1)["paths"]
    adapter = app.url_map.bind("news.example.vn")
    api_rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    matched = set()
    for path, item in paths.items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: "1" if m[1] == "source_id" else "x", path)
        for method in item:
            rule, _ = adapter.match(concrete, method=method.upper(), return_rule=True)
            matched.add(rule.rule)
    assert api_rules <= matched


def test_the_consoles_pages_are_declared_but_not_published(app: Any) -> None:
    """HTML for signed-in operators: described beside their routes, left out of the API's
    document; the public home page is in it."""
    console = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("console.")]
    assert len(console) > 20
    for rule in console:
        ops = declared(app.view_functions[rule.endpoint])
        assert ops and not any(op.published for op in ops), rule.rule
    paths = document(app, "https://news.example.vn", 1)["paths"]
    assert not [p for p in paths if p.startswith("/admin")]
    assert paths["/"]["get"]["responses"]["200"]["content"] == {
        "text/html": {"schema": {"type": "string"}}
    }


def test_a_route_added_without_a_declaration_is_reported_and_one_with_is_described(
    app: Any,
) -> None:
    """Adding an endpoint: a query model and a declaration beside the route are all it takes."""

    class EchoQuery(Query):
        n: WholeNumber = Int(1, 1, 5, "How many.")

    extra = Blueprint("extra", __name__)

    @extra.get("/api/bare")
    def bare() -> str:
        return "bare"

    @extra.get("/api/echo")
    @read("Echo", models.Health, query=EchoQuery, not_found=False)
    def echo() -> str:
        return "echo"

    fresh = Flask(__name__, static_folder=None)
    fresh.register_blueprint(extra)
    assert undocumented(fresh) == ["GET /api/bare"]
    paths = document(fresh, "https://x.vn", 1)["paths"]
    assert "/api/bare" not in paths
    (k,) = paths["/api/echo"]["get"]["parameters"][:1]
    assert k["name"] == "n" and k["schema"] == {
        "type": "integer",
        "default": 1,
        "minimum": 1,
        "maximum": 5,
    }
    assert set(paths["/api/echo"]["get"]["responses"]) == {"200", "304", "400", "503"}
