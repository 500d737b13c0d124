"""Tenant configuration: one YAML file per tenant, validated with file/field/fix errors.

A tenant is an organisation (DESIGN.md, tenancy model). Its file names its
plan (queue limits and run resources), data region, time zone, members,
enabled workflow templates with their parameters and its compliance policy.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem, load_yaml_model
from klikkflow_pipelines.paths import tenants_config_dir

TENANT_ID_PATTERN = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
RESERVED_TENANT_IDS = ("gateway", "platform", "system")
"""Names the platform uses (the gateway's ``platform`` audit log and witness file, its database roles)."""
Role = Literal["viewer", "launcher", "editor", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Toleration(_Strict):
    """A Kubernetes toleration for the tenant's node pool."""

    key: str
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(_Strict):
    """Where the tenant's run pods are scheduled."""

    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)


def _invalid(message: str, fix: str) -> PydanticCustomError:
    """A validation error whose message and fix reach the user through ``ConfigProblem``."""
    return PydanticCustomError("value_error", message.replace("{", "(").replace("}", ")"), {"fix": fix})


_QUANTITY_PATTERN = r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<suffix>m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?"


class Plan(_Strict):
    """Commercial plan: queue limits and per-run resources."""

    name: str = "standard"
    max_concurrent_runs: int = Field(default=4, ge=1, le=1000)
    run_priority: int = Field(default=0, ge=-100, le=100)
    max_runtime_seconds: int = Field(default=3600, ge=60)
    cpu_request: str = "250m"
    cpu_limit: str = "1"
    memory_request: str = "512Mi"
    memory_limit: str = "2Gi"

    @field_validator("cpu_request", "cpu_limit", "memory_request", "memory_limit")
    @classmethod
    def _kubernetes_quantity(cls, value: str) -> str:
        if not re.fullmatch(_QUANTITY_PATTERN, value):
            raise _invalid(
                f"{value!r} is not a Kubernetes quantity",
                "write CPU like 500m or 2 and memory like 512Mi or 4Gi",
            )
        return value

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Plan:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self, f"{kind}_request"), getattr(self, f"{kind}_limit")
            if parse_quantity(request) > parse_quantity(limit):
                raise _invalid(
                    f"{kind}_request {request} exceeds {kind}_limit {limit}",
                    f"lower {kind}_request or raise {kind}_limit",
                )
        return self


_QUANTITY_SUFFIXES = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def parse_quantity(value: str) -> Decimal:
    """The numeric value of a Kubernetes quantity such as ``500m`` or ``4Gi``.

    Written here rather than imported from the kubernetes client, whose import
    costs almost a second on every code-location load.
    """
    match = re.fullmatch(_QUANTITY_PATTERN, value)
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return Decimal(match["number"]) * _QUANTITY_SUFFIXES[match["suffix"] or ""]


def _network_cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise _invalid(
            f"{value!r} is not a network in CIDR notation ({exc})",
            "write it like 10.20.0.0/16 or 203.0.113.7/32 (no host bits set)",
        ) from None


class EgressRule(_Strict):
    """A declared outbound destination of the tenant's run pods (becomes a NetworkPolicy rule).

    Kubernetes NetworkPolicy matches addresses, not host names: declare the
    CIDR a host resolves to; ``host`` is kept as documentation on the rule.
    """

    cidr: str
    ports: list[int] = Field(default_factory=lambda: [443], min_length=1)
    protocol: Literal["TCP", "UDP"] = "TCP"
    host: str | None = None

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        return _network_cidr(value)

    @field_validator("ports")
    @classmethod
    def _valid_ports(cls, value: list[int]) -> list[int]:
        bad = [port for port in value if not 1 <= port <= 65535]
        if bad:
            raise _invalid(f"ports {bad} are outside 1-65535", "give TCP/UDP port numbers")
        return value


class Network(_Strict):
    """Network reach of the tenant's run pods: its database and declared egress (default deny otherwise).

    ``database_cidr`` unset means the tenant database runs in the cluster's
    platform namespace (``klikkflow-system``) and is reached by namespace selector.
    """

    database_cidr: str | None = None
    database_port: int = Field(default=5432, ge=1, le=65535)
    egress: list[EgressRule] = Field(default_factory=list)

    @field_validator("database_cidr")
    @classmethod
    def _valid_cidr(cls, value: str | None) -> str | None:
        return None if value is None else _network_cidr(value)


class Member(_Strict):
    """A local account (or OIDC subject/email) and its role in this tenant."""

    user: str
    role: Role


class WorkflowSettings(_Strict):
    """An enabled workflow template and its parameters (validated by the template)."""

    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


LOCATION_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,23}$"
"""Short enough that ``kf-<tenant>-<location>`` stays a Kubernetes name (63 characters)."""
MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
KLIKKFLOW_PACKAGES = ("klikkflow_pipelines", "compliance", "resources", "sensors")
"""Top-level packages of KlikkFlow itself: no tenant module may be, or shadow, one of them."""


class CodeLocation(_Strict):
    """One of the tenant's own code locations: an importable module or a ``dg`` project folder.

    ``path`` (with ``module``) and ``project`` are relative to the tenant file; ``image`` is the
    container image its code server runs in production.
    """

    name: str = Field(pattern=LOCATION_NAME_PATTERN)
    module: str | None = Field(default=None, pattern=MODULE_PATTERN)
    attribute: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    path: str | None = None
    project: str | None = None
    image: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._/:-]*$")

    @field_validator("module")
    @classmethod
    def _not_klikkflow(cls, value: str | None) -> str | None:
        if value is not None and value.split(".")[0] in KLIKKFLOW_PACKAGES:
            raise _invalid(
                f"module {value!r} is part of KlikkFlow itself, not tenant code",
                "name your own package (for example acme_pipelines.definitions); "
                "enable built-in workflows under `workflows:` instead",
            )
        return value

    @field_validator("image")
    @classmethod
    def _pinned_image(cls, value: str | None) -> str | None:
        if value is None:
            return value
        _, _, tag = value.rpartition(":")
        if not tag or "/" in tag or tag == "latest" or ":" not in value:
            raise _invalid(
                f"image {value!r} has no fixed tag",
                "give the image with a version tag, like registry.example.com/acme/pipelines:1.0.0",
            )
        return value

    @model_validator(mode="after")
    def _module_or_project(self) -> CodeLocation:
        if (self.module is None) == (self.project is None):
            raise _invalid(
                f"code location {self.name!r} needs exactly one of `module` and `project`",
                "give `module: your_package.definitions` or `project: path/to/dg-project`",
            )
        if self.project is not None and (self.attribute or self.path):
            raise _invalid(
                f"code location {self.name!r}: `attribute` and `path` belong to `module`, not `project`",
                "remove them; a dg project names its definitions module in its pyproject.toml",
            )
        return self

    def resolve(self, relative_to: Path, value: str) -> Path:
        """``value`` (this location's ``path`` or ``project``) as an absolute path."""
        path = Path(value).expanduser()
        return (path if path.is_absolute() else relative_to / path).resolve()


class TenantConfig(_Strict):
    """The whole configuration of one tenant."""

    id: str = Field(pattern=TENANT_ID_PATTERN)
    name: str
    region: str = "eu-north-1"
    timezone: str = "UTC"
    plan: Plan = Field(default_factory=Plan)
    node_pool: NodePool = Field(default_factory=NodePool)
    members: list[Member] = Field(default_factory=list)
    oidc_groups: dict[str, Role] = Field(default_factory=dict)
    network: Network = Field(default_factory=Network)
    workflows: dict[str, WorkflowSettings] = Field(default_factory=dict)
    policy: str | None = None
    code_locations: list[CodeLocation] = Field(default_factory=list)
    source_path: str | None = Field(default=None, exclude=True)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_TENANT_IDS:
            raise _invalid(
                f"tenant id {value!r} is reserved for the platform",
                f"choose another id (not one of {', '.join(RESERVED_TENANT_IDS)}), e.g. {value}-org",
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Oslo or America/New_York"
            ) from None
        return value

    @field_validator("code_locations")
    @classmethod
    def _unique_location_names(cls, value: list[CodeLocation], info: ValidationInfo) -> list[CodeLocation]:
        seen: set[str] = set()
        for index, location in enumerate(value):
            if location.name == info.data.get("id"):
                raise _invalid(
                    f"[{index}] ({location.name}): the name is the built-in location's (the tenant id)",
                    "choose another name; the built-in workflows' location is named after the tenant",
                )
            if location.name in seen:
                raise _invalid(
                    f"[{index}] ({location.name}): the name is used twice",
                    "give every code location its own name",
                )
            seen.add(location.name)
        return value

    def code_location(self, name: str) -> tuple[int, CodeLocation]:
        """The position and entry of the tenant's own code location ``name`` (``KeyError`` if none)."""
        for index, location in enumerate(self.code_locations):
            if location.name == name:
                return index, location
        raise KeyError(name)

    def policy_path(self) -> Path | None:
        """The tenant's compliance policy file, resolved relative to the tenant file."""
        if self.policy is None:
            return None
        path = Path(self.policy)
        if not path.is_absolute() and self.source_path:
            path = Path(self.source_path).parent / path
        return path


def load_tenant_file(path: Path) -> TenantConfig:
    """Load and validate one tenant file; its ``id`` must match the file name."""
    config = load_yaml_model(path, TenantConfig)
    if config.id != path.stem:
        raise ConfigError(
            [
                ConfigProblem(
                    str(path),
                    "id",
                    f"id {config.id!r} differs from the file name",
                    f"rename the file to {config.id}.yaml or set id: {path.stem}",
                )
            ]
        )
    return config.model_copy(update={"source_path": str(path)})


def tenant_files(directory: Path | None = None) -> list[Path]:
    """Every ``*.yaml`` tenant file in the tenants directory, sorted by name."""
    directory = directory or tenants_config_dir()
    return sorted(p for p in directory.glob("*.yaml") if re.match(TENANT_ID_PATTERN, p.stem) or p.suffix)


def load_tenant(tenant_id: str, directory: Path | None = None) -> TenantConfig:
    """Load the tenant called ``tenant_id`` from the tenants directory."""
    return load_tenant_file((directory or tenants_config_dir()) / f"{tenant_id}.yaml")


def load_all_tenants(directory: Path | None = None) -> tuple[dict[str, TenantConfig], dict[str, ConfigError]]:
    """Load every tenant; a broken file is returned as an error and never stops the others."""
    loaded: dict[str, TenantConfig] = {}
    failed: dict[str, ConfigError] = {}
    for path in tenant_files(directory):
        try:
            loaded[path.stem] = load_tenant_file(path)
        except ConfigError as exc:
            failed[path.stem] = exc
    return loaded, failed
