"""The ``klikkflow`` command line."""

from klikkflow_pipelines.cli.main import app

__all__ = ["app"]
