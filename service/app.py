"""`gunicorn 'service.app:create_app()'`: the address the README and deployments use for the
Flask application factory, which lives in `service.http.app`."""

from service.http.app import create_app

__all__ = ["create_app"]
