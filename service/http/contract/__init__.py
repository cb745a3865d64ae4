"""The HTTP contract in one place: answer and body models (models.py, and the push model in
feeds.ingest.push), query models (query.py), each route's declared operation (operations.py),
the answers' shapes (shapes.py) and the OpenAPI document generated from them (document.py)."""
