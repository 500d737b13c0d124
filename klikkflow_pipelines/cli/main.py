"""The ``klikkflow`` typer app: every command group is registered here."""

from __future__ import annotations

import typer

from klikkflow_pipelines.cli.audit import audit_app
from klikkflow_pipelines.cli.compliance import classify, policy_app
from klikkflow_pipelines.cli.demo import demo
from klikkflow_pipelines.cli.detokenize import detokenize, token_public_key
from klikkflow_pipelines.cli.dev import dev
from klikkflow_pipelines.cli.dlq import dlq_app
from klikkflow_pipelines.cli.gateway import gateway_app, serve
from klikkflow_pipelines.cli.platform import platform_app
from klikkflow_pipelines.cli.rehearse import rehearse
from klikkflow_pipelines.cli.tenant import tenant_app
from klikkflow_pipelines.cli.validate import validate

app = typer.Typer(
    name="klikkflow",
    help="KlikkFlow: compliant workflow automation on Dagster.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(demo)
app.command()(dev)
app.command()(validate)
app.command()(rehearse)
app.add_typer(tenant_app, name="tenant")
app.add_typer(platform_app, name="platform")
app.command("serve")(serve)
app.add_typer(gateway_app, name="gateway")
app.add_typer(audit_app, name="audit")
app.add_typer(dlq_app, name="dlq")
app.command()(classify)
app.add_typer(policy_app, name="policy")
app.command()(detokenize)
app.command("token-public-key")(token_public_key)
