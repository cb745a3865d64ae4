"""The quantam service: configuration, command line and the HTTP application."""
