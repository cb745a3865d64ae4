"""The web service: the Flask application factory (`app`), its blueprints by concern (`api` read
API, `cms` write API, `feed_routes` feeds, `embed` the box, `ops` health and metrics, `openapi`),
the HTTP contract (`contract/`: models, query parameters, declared operations, the generated
OpenAPI document), `errors` and the caches (`caching`, and `response_cache`: whole answers kept
while what they read is unchanged)."""
