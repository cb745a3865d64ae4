"""The web service: the Flask application factory (`app`), its blueprints by concern (`api` read
API, `cms` write API, `feed_routes` feeds, `embed` the box, `ops` health and metrics, `openapi`),
the HTTP contract (`contract/`: models, query parameters, declared operations, the generated
OpenAPI document), `errors` and the layers that answer without
Flask or from cache (`caching`, `response_cache`, `related_fastpath`)."""
