"""The newsroom console at /admin (auth, views, charts, templates) and the public home page."""
