"""Validation of user-supplied YAML files with messages naming file, field and fix.

Every config file a user can hand KlikkFlow (tenant configs, compliance
policies, workflow parameters) goes through :func:`load_yaml_model`, so a
mistake is always reported as ``FILE: FIELD: what is wrong. Fix: what to do``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with one field of one file."""

    file: str
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}. Fix: {self.fix}"


class ConfigError(Exception):
    """A config file failed validation; ``problems`` lists every field at fault."""

    def __init__(self, problems: Sequence[ConfigProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


_FIXES = {
    "missing": "add the field",
    "extra_forbidden": "remove the field or check its spelling",
    "string_type": "give a string",
    "int_type": "give a whole number",
    "int_parsing": "give a whole number",
    "float_parsing": "give a number",
    "bool_parsing": "give true or false",
    "literal_error": "use one of the allowed values",
    "enum": "use one of the allowed values",
    "dict_type": "give a mapping (key: value lines)",
    "list_type": "give a list",
    "greater_than_equal": "give a larger value",
    "less_than_equal": "give a smaller value",
    "greater_than": "give a larger value",
    "string_pattern_mismatch": "follow the pattern in the message",
}


def _field_path(loc: Sequence[str | int]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


def problems_from_validation_error(
    file: str, error: ValidationError, field_prefix: Sequence[str | int] = ()
) -> list[ConfigProblem]:
    """Turn a pydantic ``ValidationError`` into file/field/fix problems.

    ``field_prefix`` locates the validated mapping inside its file (for a
    mapping nested in a larger document).
    """
    problems = []
    for err in error.errors():
        ctx_fix = (err.get("ctx") or {}).get("fix")
        fix = ctx_fix or _FIXES.get(err["type"], "correct the value")
        message = err["msg"].removeprefix("Value error, ")
        problems.append(ConfigProblem(file, _field_path([*field_prefix, *err["loc"]]), message, fix))
    return problems


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping, or raise :class:`ConfigError`."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [ConfigProblem(file, "(file)", "file not found", "create it or correct the path")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [ConfigProblem(file, "(file)", f"not UTF-8 text ({exc.reason})", "save the file as UTF-8")]
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigProblem(file, where, f"invalid YAML: {problem}", "fix the YAML syntax there")]
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [
                ConfigProblem(
                    file,
                    "(top level)",
                    "expected a mapping of fields",
                    "write the file as `field: value` lines",
                )
            ]
        )
    return data


def validate_mapping(
    file: str, data: dict[str, Any], model: type[ModelT], field_prefix: Sequence[str | int] = ()
) -> ModelT:
    """Validate an already-parsed mapping against ``model`` with file/field/fix errors."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from_validation_error(file, exc, field_prefix)) from None


def load_yaml_model(path: Path, model: type[ModelT]) -> ModelT:
    """Load a YAML file into a pydantic model, raising :class:`ConfigError` on any problem."""
    return validate_mapping(str(path), read_yaml_mapping(path), model)
