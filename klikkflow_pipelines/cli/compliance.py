"""``klikkflow classify`` and ``klikkflow policy check|apply``: the compliance layer on files."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:  # the compliance layer (polars, Dagster) loads when a command runs, not for --help
    from compliance.crypto import Keys
    from compliance.evaluate import ColumnOutcome, Labels
    from compliance.policy import Policy
    from compliance.recognizers import Recognizer

DEFAULT_SAMPLE = 1000  # compliance.classify.DEFAULT_SAMPLE (a test keeps them equal)

policy_app = typer.Typer(
    help="Check compliance policy files and apply them to data files.", no_args_is_help=True
)


class OutputFormat(StrEnum):
    """Output formats of ``klikkflow classify``."""

    json = "json"
    table = "table"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def classify(
    paths: list[Path] = typer.Argument(
        None, metavar="DATA", help="CSV, Parquet or JSON Lines file(s); one without --evaluate."
    ),
    output: OutputFormat = typer.Option(OutputFormat.table, "--format", help="json or table."),
    sample: int = typer.Option(
        DEFAULT_SAMPLE, "--sample", min=1, help="Distinct values examined per column."
    ),
    labels_file: Path | None = typer.Option(
        None,
        "--evaluate",
        metavar="LABELS.yaml",
        help="Score the classifier against these column labels (DATA defaults to the files they list).",
    ),
    min_f1: float | None = typer.Option(
        None, "--min-f1", min=0.0, max=1.0, help="With --evaluate: exit 1 when the column F1 is below this."
    ),
    policy_file: Path | None = typer.Option(
        None,
        "--policy",
        metavar="POLICY.yaml",
        help="Classify with this policy's custom entities too, and preview the action on each column.",
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Show per column the signals, thresholds and masked samples behind it."
    ),
    asset: str = typer.Option(
        "", help="With --policy: asset name matched by rule globs (default: the DATA file's stem)."
    ),
) -> None:
    """Classify the columns of a data file for PII, or measure the classifier on labelled files."""
    from compliance.classify import classify_frame
    from compliance.entities import ENTITIES
    from compliance.explain import explain_frame, preview_actions
    from compliance.files import DataFileError, read_frame
    from klikkflow_pipelines.cli.classify_explain import print_explanations, print_report, report_json
    from klikkflow_pipelines.cli.progress import progress_steps

    paths = list(paths or [])
    policy = _load(policy_file) if policy_file is not None else None
    recognizers = policy.recognizers if policy is not None else ()
    if labels_file is not None:
        if explain:
            raise _fail("--explain works on one DATA file; leave off --evaluate LABELS.yaml")
        known = policy.entity_names if policy is not None else ENTITIES
        _evaluate(labels_file, paths, output, sample, min_f1, recognizers, known)
        return
    if min_f1 is not None:
        raise _fail("--min-f1 needs --evaluate LABELS.yaml")
    if len(paths) != 1:
        raise _fail("give one DATA file (several only with --evaluate LABELS.yaml)")
    path = paths[0]
    try:
        with progress_steps(f"reading {path.name}"):
            frame = read_frame(path)
    except DataFileError as exc:
        raise _fail(str(exc)) from None
    asset = asset or path.stem
    if explain:
        with progress_steps(_classifying(frame)):
            result = explain_frame(frame, sample=sample, recognizers=recognizers, policy=policy, asset=asset)
        if output is OutputFormat.json:
            typer.echo(json.dumps(result.to_json()))
        else:
            print_explanations(Console(), result, path)
        return
    with progress_steps(_classifying(frame)):
        report = classify_frame(frame, sample=sample, recognizers=recognizers)
    decisions = preview_actions(policy, report, asset) if policy is not None else None
    if output is OutputFormat.json:
        typer.echo(json.dumps(report_json(report, decisions)))
    else:
        print_report(Console(), report, path, decisions)


def _classifying(frame: Any) -> str:
    """What the progress display says while ``frame`` (a Polars frame) is classified."""
    return f"classifying {frame.width} columns of {frame.height:,} rows"


def _data_files(labels: Labels, paths: list[Path]) -> list[tuple[str, Path]]:
    """(labels key, data path) pairs: the DATA given, or every labelled file next to the labels file."""
    if not paths:
        return [(key, labels.path.parent / key) for key in labels.files]
    pairs = []
    for path in paths:
        found = labels.for_data(path)
        if found is None:
            known = ", ".join(labels.files)
            raise _fail(
                f"{labels.path}: files: no labels for DATA file {path} (labelled: {known}). "
                f"Fix: add its path or file name under files:, or leave it off the command line"
            )
        pairs.append((found[0], path))
    unused = set(labels.files) - {key for key, _ in pairs}
    if unused:
        typer.echo(f"note: labels not evaluated (no such DATA given): {', '.join(sorted(unused))}", err=True)
    return pairs


def _evaluate(
    labels_file: Path,
    paths: list[Path],
    output: OutputFormat,
    sample: int,
    min_f1: float | None,
    recognizers: tuple[Recognizer, ...],
    known: tuple[str, ...],
) -> None:
    from compliance.classify import classify_frame
    from compliance.evaluate import column_outcomes, evaluate, load_labels
    from compliance.files import DataFileError, read_frame
    from compliance.nlp import build_engines
    from klikkflow_pipelines.cli.evaluation_tables import print_evaluation
    from klikkflow_pipelines.cli.progress import progress_steps
    from klikkflow_pipelines.config_errors import ConfigError

    try:
        labels = load_labels(labels_file, known=known)
        pairs = _data_files(labels, paths)
        outcomes: list[ColumnOutcome] = []
        unlabelled: dict[str, list[str]] = {}
        with progress_steps("loading the NER model", total=len(pairs)) as steps:
            engines = build_engines()
            for key, path in pairs:
                steps.step(f"classifying {path.name}")
                frame = read_frame(path)
                report = classify_frame(frame, sample=sample, engines=engines, recognizers=recognizers)
                found, rest = column_outcomes(labels, key, path, report)
                outcomes += found
                if rest:
                    unlabelled[str(path)] = rest
                steps.advance()
    except (ConfigError, DataFileError) as exc:
        raise _fail(str(exc)) from None
    result = evaluate(outcomes, unlabelled)
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.to_json()))
    else:
        print_evaluation(Console(), result)
    if min_f1 is not None and result.overall.f1 < min_f1:
        raise _fail(f"column F1 {result.overall.f1:.4f} is below --min-f1 {min_f1}", code=1)


def _load(policy_file: Path) -> Policy:
    from compliance.policy import load_policy
    from klikkflow_pipelines.config_errors import ConfigError

    try:
        return load_policy(policy_file)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@policy_app.command("check")
def check(policy_file: Path = typer.Argument(..., help="Policy YAML file.")) -> None:
    """Validate a policy file; errors name file, rule, field and fix."""
    policy = _load(policy_file)
    typer.echo(
        f"{policy_file}: OK ({len(policy.rules)} rules, {len(policy.residency)} residency rules, "
        f"{len(policy.entities)} custom entities)"
    )


@policy_app.command("apply")
def apply(
    policy_file: Path = typer.Argument(..., help="Policy YAML file."),
    input_path: Path = typer.Argument(..., metavar="IN", help="CSV, Parquet or JSON Lines input."),
    output_path: Path = typer.Argument(..., metavar="OUT", help="Output file (format from its extension)."),
    asset: str = typer.Option("", help="Asset name matched by rule globs (default: the input file's stem)."),
    sample: int = typer.Option(
        DEFAULT_SAMPLE, "--sample", min=1, help="Distinct values examined per column."
    ),
    tenant: str | None = typer.Option(
        None,
        "--tenant",
        "-t",
        help="Hash and tokenize with this tenant's key, as its pipelines do (default: KLIKKFLOW_TENANT_KEY).",
        show_default=False,
    ),
) -> None:
    """Classify IN, apply the policy and write OUT; a block rule writes nothing and exits 3.

    With ``--tenant`` the hashes and tokens equal those the tenant's own runs write.
    """
    from compliance.classify import classify_frame
    from compliance.crypto import KeyMaterialError
    from compliance.enforce import PolicyBlocked, enforce
    from compliance.files import DataFileError, read_frame, write_frame
    from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV
    from klikkflow_pipelines.cli.known_tenants import require_known_tenant
    from resources.secrets import TENANT_KEY_ENV

    if tenant is not None:
        require_known_tenant(tenant)
    policy = _load(policy_file)
    try:
        frame = read_frame(input_path)
        keys = _tenant_keys(tenant) if tenant is not None else _env_keys()
        report = classify_frame(frame, sample=sample, recognizers=policy.recognizers)
        result = enforce(frame, policy, report, asset=asset or input_path.stem, keys=keys)
        write_frame(result.frame, output_path)
    except DataFileError as exc:
        raise _fail(str(exc)) from None
    except PolicyBlocked as exc:
        raise _fail(f"{exc}. Nothing was written to {output_path}.", code=3) from None
    except KeyMaterialError as exc:
        if TOKEN_PUBLIC_KEY_ENV in str(exc):  # the message names its fix
            raise _fail(str(exc)) from None
        where = f"run `klikkflow demo --tenant {tenant}` once to make its key, or " if tenant else ""
        raise _fail(f"{exc}. Fix: {where}export {TENANT_KEY_ENV} (hex or base64, 32+ bytes)") from None
    for decision in result.decisions:
        if decision.action != "allow":
            typer.echo(f"{decision.column}: {decision.action} (rule {decision.rule})")
    typer.echo(f"wrote {result.frame.height} rows to {output_path}")


def _env_keys() -> Keys | None:
    """Keys from ``KLIKKFLOW_TENANT_KEY`` (and ``KLIKKFLOW_TOKEN_PUBLIC_KEY``), or None when unset."""
    from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV
    from resources.secrets import TENANT_KEY_ENV, SecretsResource

    if not os.environ.get(TENANT_KEY_ENV):
        return None
    return SecretsResource(
        tenant_key=os.environ.get(TENANT_KEY_ENV), token_public_key=os.environ.get(TOKEN_PUBLIC_KEY_ENV)
    ).compliance_keys()


def _tenant_keys(tenant: str) -> Keys | None:
    """The keys the tenant's runs use; None (hash/tokenize rules then say so) when it has none yet.

    Reads the tenant's key file without creating it (or its home): only a run makes the key.
    """
    from klikkflow_pipelines.paths import klikkflow_home
    from klikkflow_pipelines.tenant_resources import tenant_secrets

    secrets = tenant_secrets(klikkflow_home(create=False) / "tenants" / tenant)
    if secrets.tenant_key_file is not None and not Path(secrets.tenant_key_file).exists():
        return None
    return secrets.process_config_and_initialize().compliance_keys()
