"""``python -m klikkflow_pipelines.cli``: the same as the ``klikkflow`` command."""

from klikkflow_pipelines.cli.main import app

app()
