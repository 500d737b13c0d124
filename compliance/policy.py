"""The per-tenant compliance policy: a YAML file of rules, validated with file/rule/field errors.

Rules are tried in order and the first whose ``match`` fits a column decides
its action; columns no rule matches get ``default_action``. A policy may
declare the tenant's own entities (:mod:`compliance.custom_entities`), which
its rules name like built-in ones and :attr:`Policy.recognizers` hands to the
classifier. See POLICY.md.
Keys never live in the policy: hashing and tokenization keys come from the
secrets resource (:mod:`resources.secrets`).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from compliance.custom_entities import CustomEntity, invalid
from compliance.entities import ENTITIES, NER_ENTITIES, PATTERN_ENTITIES, Sensitivity
from compliance.recognizers import Recognizer
from klikkflow_pipelines.config_errors import ConfigError, ConfigProblem, read_yaml_mapping, validate_mapping

Action = Literal["allow", "mask", "hash", "tokenize", "redact", "drop", "block"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """Which columns a rule applies to; every given selector must fit (globs are shell-style)."""

    entities: list[str] = Field(default_factory=list)
    sensitivity: list[Sensitivity] = Field(default_factory=list)
    free_text: bool | None = None
    assets: list[str] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        if not (
            self.entities or self.sensitivity or self.free_text is not None or self.assets or self.columns
        ):
            raise ValueError(
                "match selects nothing; give entities, sensitivity, free_text, assets or columns"
            )
        return self

    def fits(
        self,
        asset: str,
        column: str,
        carried: set[str],
        sensitivity: str,
        free_text: bool,
        parents: tuple[str, ...] = (),
    ) -> bool:
        """True when a column (or leaf path) of ``asset`` with these findings is selected.

        A ``columns`` glob selects a leaf path (``contact.email``) when it
        matches the path or one of the ``parents`` that contain it (``contact``);
        ``[]`` in a glob is literal, as in leaf paths like ``emails[]``.
        """
        if self.assets and not any(fnmatch.fnmatchcase(asset, g) for g in self.assets):
            return False
        names = (column, *parents)
        if self.columns and not any(
            fnmatch.fnmatchcase(name, _literal_brackets(g)) for g in self.columns for name in names
        ):
            return False
        if self.free_text is not None and self.free_text != free_text:
            return False
        if self.entities and not carried.intersection(self.entities):
            return False
        return not self.sensitivity or sensitivity in self.sensitivity


def _literal_brackets(glob: str) -> str:
    """``[]`` (a list's elements in a leaf path) matches itself, not a character class."""
    return glob.replace("[]", "[[][]]")


class Rule(_Strict):
    """One policy rule: a name, what it matches and the action taken."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    match: Match
    action: Action
    keep_last: int | None = Field(default=None, ge=0, le=64)
    redact_entities: list[str] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _action_fields(self) -> Rule:
        if self.keep_last is not None and self.action != "mask":
            raise ValueError("keep_last applies only to action mask")
        if self.redact_entities is not None and self.action != "redact":
            raise ValueError("redact_entities applies only to action redact")
        return self

    @property
    def mask_keep_last(self) -> int:
        """Characters left visible by ``mask`` (default 4)."""
        return 4 if self.keep_last is None else self.keep_last


class ResidencyRule(_Strict):
    """Where data may be written: destinations (globs) and the regions allowed for them."""

    destinations: list[str] = Field(min_length=1)
    allowed_regions: list[str] = Field(min_length=1)
    only_with_pii: bool = True


class Policy(_Strict):
    """A tenant's whole compliance policy."""

    version: Literal[1] = 1
    description: str = ""
    default_action: Literal["allow", "drop", "block"] = "allow"
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    unclassifiable: Literal["allow", "drop", "block"] = Field(
        default="block",
        description="Action for a column whose type the classifier cannot read (never silently allowed).",
    )
    require_governed: bool = Field(
        default=False,
        description="Refuse to load (and to write) assets the compliance layer cannot govern.",
    )
    entities: list[CustomEntity] = Field(
        default_factory=list, description="The tenant's own entities, named by rules like built-in ones."
    )
    rules: list[Rule] = Field(default_factory=list)
    residency: list[ResidencyRule] = Field(default_factory=list)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("entities", mode="wrap")
    @classmethod
    def _unique_entities(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> list[CustomEntity]:
        entities: list[CustomEntity] = handler(value)
        first: dict[str, int] = {}
        errors = []
        for index, entity in enumerate(entities):
            if entity.name in first:
                error = invalid(
                    "entity name {name} is declared twice (first as entities[{first}])",
                    "give every custom entity its own name",
                    name=repr(entity.name),
                    first=str(first[entity.name]),
                )
                errors.append(InitErrorDetails(type=error, loc=(index, "name"), input=entity.name))
            first.setdefault(entity.name, index)
        if errors:
            raise ValidationError.from_exception_data("entities", errors)
        return entities

    @model_validator(mode="after")
    def _unique_names(self) -> Policy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice; rule names must be unique")
            seen.add(rule.name)
        return self

    @model_validator(mode="after")
    def _known_entity_references(self) -> Policy:
        """Rules name only built-in entities and the ones this policy declares."""
        known = set(self.entity_names)
        custom = ", ".join(e.name for e in self.entities) or "none"
        errors = []
        for index, rule in enumerate(self.rules):
            for field, names in (
                (("match", "entities"), rule.match.entities),
                (("redact_entities",), rule.redact_entities or []),
            ):
                unknown = [n for n in names if n not in known]
                if unknown:
                    error = invalid(
                        "unknown entity {unknown}; built-in entities: {builtin}; custom entities of this "
                        "policy: {custom}",
                        "use one of those names, or declare the entity under entities: (POLICY.md, "
                        "Custom entities)",
                        unknown=", ".join(map(repr, unknown)),
                        builtin=", ".join(ENTITIES),
                        custom=custom,
                    )
                    errors.append(InitErrorDetails(type=error, loc=("rules", index, *field), input=names))
        if errors:
            raise ValidationError.from_exception_data("Policy", errors)
        return self

    @property
    def entity_names(self) -> tuple[str, ...]:
        """Every entity this policy's rules may name: the built-in ones, then the policy's own."""
        return (*ENTITIES, *(e.name for e in self.entities))

    @property
    def recognizers(self) -> tuple[Recognizer, ...]:
        """The policy's custom entities as recognizers: ``classify_frame(..., recognizers=...)``."""
        return tuple(e.recognizer(self.source) for e in self.entities)

    @property
    def default_redact(self) -> tuple[str, ...]:
        """What a ``redact`` rule without ``redact_entities`` removes: built-in and custom entities."""
        return (*DEFAULT_REDACT, *(e.name for e in self.entities))

    def rule_for(
        self,
        asset: str,
        column: str,
        carried: set[str],
        sensitivity: str,
        free_text: bool,
        parents: tuple[str, ...] = (),
    ) -> Rule | None:
        """The first rule that matches the column (or leaf path within ``parents``), or ``None``."""
        for rule in self.rules:
            if rule.match.fits(asset, column, carried, sensitivity, free_text, parents):
                return rule
        return None

    def allowed_regions(self, destination: str, has_pii: bool) -> list[str] | None:
        """Regions allowed for ``destination``, or ``None`` when no residency rule applies."""
        for rule in self.residency:
            if rule.only_with_pii and not has_pii:
                continue
            if any(fnmatch.fnmatchcase(destination, g) for g in rule.destinations):
                return list(rule.allowed_regions)
        return None


DEFAULT_REDACT: tuple[str, ...] = (*PATTERN_ENTITIES, *NER_ENTITIES)


_NAMED_ITEMS = {"rules": "rule", "entities": "entity"}


def _name_items(problems: list[ConfigProblem], data: dict[str, Any]) -> list[ConfigProblem]:
    """Add the rule's or entity's name to field paths like ``rules[2].action`` so errors name it."""
    named = []
    for problem in problems:
        field = problem.field
        key = field.split("[", 1)[0]
        items = data.get(key)
        if key in _NAMED_ITEMS and isinstance(items, list) and "]" in field:
            index = field[len(key) + 1 : field.index("]")]
            if index.isdigit() and int(index) < len(items) and isinstance(items[int(index)], dict):
                name = items[int(index)].get("name")
                if name:
                    field = f"{key}[{index}] ({_NAMED_ITEMS[key]} {name!r}){field[field.index(']') + 1 :]}"
        named.append(ConfigProblem(problem.file, field, problem.message, problem.fix))
    return named


def load_policy(path: Path | str) -> Policy:
    """Load and validate a policy file; :class:`ConfigError` names file, rule or entity, and field."""
    path = Path(path)
    data = read_yaml_mapping(path)
    try:
        policy = validate_mapping(str(path), data, Policy)
    except ConfigError as exc:
        raise ConfigError(_name_items(exc.problems, data)) from None
    return policy.model_copy(update={"source": str(path)})


def policy_from_mapping(data: dict[str, Any], source: str = "<policy>") -> Policy:
    """Validate an in-memory policy mapping (tests, generated policies) with the same messages."""
    try:
        return validate_mapping(source, data, Policy)
    except ConfigError as exc:
        raise ConfigError(_name_items(exc.problems, data)) from None
