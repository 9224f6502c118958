"""The recipe: one TOML file that describes a whole experiment, validated strictly.

Every table is a pydantic model with ``extra="forbid"``; plugin tables are validated by the
plugin's own config model. Any problem becomes a :class:`jre.errors.UserError` that reads
``FILE:LINE: dotted.field: message``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from jre.engine_checks import sampling_problems
from jre.errors import UserError, all_errors
from jre.kinds.base import StrictModel
from jre.kinds.teacher import Teacher
from jre.plugin_manager import PluginSet, get_plugins
from jre.sections.analyze import AnalyzeSection
from jre.sections.eval import EvalSection
from jre.sections.mix import MixSection
from jre.sections.refs import PluginRef
from jre.sections.report import ReportSection
from jre.sections.study import StudySection
from jre.sections.synth import SynthSection
from jre.sections.train import TrainSection
from jre.toml_lines import locate

SCHEMA_VERSION = 1
STAGE_ORDER = ("synth", "mix", "train", "eval", "analyze", "report")

FactorValue = bool | int | float | str


S = TypeVar("S")


def required(section: S | None, stage: str) -> S:
    """A stage's table, narrowed from optional: a stage runs only where the recipe has its table."""
    if section is None:
        raise UserError(f"the recipe has no [{stage}] table", field=stage)
    return section


class Recipe(StrictModel):
    """A jre recipe. Stage tables that are absent are simply not run."""

    schema_version: Literal[1]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    run_dir: str | None = None
    seed: int = 0
    factors: dict[str, FactorValue] = Field(default_factory=dict)
    synth: SynthSection | None = None
    mix: MixSection | None = None
    train: TrainSection | None = None
    eval: EvalSection | None = None
    analyze: AnalyzeSection | None = None
    report: ReportSection | None = None
    study: StudySection | None = None  # a grid of experiment variants (jre.study)

    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file the recipe was read from."""
        return self._path

    def resolve_path(self, value: str | Path) -> Path:
        """A path written in the recipe, taken relative to the recipe's own folder."""
        p = Path(value).expanduser()
        if p.is_absolute() or self._path is None:
            return p
        return (self._path.parent / p).resolve()

    def stages(self) -> list[str]:
        """The stages this recipe declares, in pipeline order."""
        return [s for s in STAGE_ORDER if getattr(self, s) is not None]

    def section_hash(self, stage: str) -> str:
        """A stable hash of one stage's table (with plugin defaults resolved)."""
        return config_hash(resolved_dict(getattr(self, stage)))


def config_hash(data: Any) -> str:
    """Stable sha256 of JSON-serialisable ``data``."""
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def resolved_dict(model: Any, *, applicable_only: bool = False) -> Any:
    """A model as plain data with every plugin reference's validated options filled in;
    ``applicable_only`` leaves out fields a table says play no part (``inapplicable``)."""
    def again(value: Any) -> Any:
        return resolved_dict(value, applicable_only=applicable_only)

    if isinstance(model, PluginRef):
        out = {k: again(v) for k, v in model if k != "name"}
        out["name"] = model.name
        cfg = model.config
        out.update(again(cfg) if cfg is not None else model.options)
        return out
    if isinstance(model, BaseModel):
        skip = model.inapplicable() if applicable_only and isinstance(model, StrictModel) else set()
        return {k: again(v) for k, v in model if k not in skip}
    if isinstance(model, dict):
        return {k: again(v) for k, v in model.items()}
    if isinstance(model, (list, tuple)):
        return [again(v) for v in model]
    if isinstance(model, Path):
        return str(model)
    return model


def dotted(loc: tuple[Any, ...]) -> str:
    """``('eval', 'benchmarks', 0, 'name')`` → ``eval.benchmarks[0].name``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _error(path: Path, text: str, loc: tuple[Any, ...], message: str) -> UserError:
    return UserError(message, where=str(path), field=dotted(loc), line=locate(text, loc))


_UNION_TAGS = {"bool", "int", "float", "str", "dict", "list", "none"}


def _field_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # Union members and validator wrappers add loc parts that are not field names.
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_TAGS)))


def _validation_errors(exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """Each field with a problem, once, with one message (a union's alternatives joined by "or")."""
    by_field: dict[tuple[Any, ...], list[str]] = {}
    for error in exc.errors(include_url=False):
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "value_error":  # our own validators' words, without pydantic's prefix
            message = str(error.get("ctx", {}).get("error", message))
        messages = by_field.setdefault(_field_loc(error["loc"]), [])
        if message not in messages:
            messages.append(message)
    out = []
    for loc, messages in by_field.items():
        if len(messages) > 1:  # one value that matched no member of a union
            messages = [messages[0]] + [m.removeprefix("Input should be ") for m in messages[1:]]
        out.append((loc, " or ".join(messages)))
    return out


def _all(path: Path, text: str, problems: list[tuple[tuple[Any, ...], str]]) -> UserError:
    """Every problem as its own line, in the order they appear in the file."""
    errors = [_error(path, text, loc, message) for loc, message in problems]
    errors.sort(key=lambda e: e.line or 0)
    return all_errors(errors)


def _walk_refs(value: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[PluginRef, tuple[Any, ...]]]:
    if isinstance(value, PluginRef):
        yield value, loc
    if isinstance(value, BaseModel):
        for name, child in value:
            yield from _walk_refs(child, loc + (name,))
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _walk_refs(child, loc + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _walk_refs(child, loc + (i,))


def parse_recipe(text: str, path: Path, plugins: PluginSet | None = None) -> Recipe:
    """Validate recipe ``text`` read from ``path`` against ``plugins`` (the default set when
    None) and raise :class:`UserError` for every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise UserError(f"TOML syntax error: {message}", where=str(path),
                        line=int(match.group(1)) if match else None) from None
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise _all(path, text, _validation_errors(exc)) from None

    plugins = plugins if plugins is not None else get_plugins()
    problems: list[tuple[tuple[Any, ...], str]] = []
    for ref, loc in _walk_refs(recipe):
        try:
            plugin = plugins.get(ref.kind, ref.name)
        except UserError as exc:
            problems.append((loc + ("name",), exc.message))
            continue
        try:
            ref._config = plugin.parse_config(ref.options, plugins)
        except ValidationError as exc:
            problems += [(loc + sub, message) for sub, message in _validation_errors(exc)]
        except (ValueError, TypeError) as exc:
            problems.append((loc, str(exc)))
    if not problems:  # sampling checks need every plugin's options validated
        problems = list(sampling_problems(recipe, plugins))
    if problems:
        raise _all(path, text, problems)
    recipe._path = path.resolve()
    if recipe.synth is not None:
        for ds in recipe.synth.datasets.values():
            ds._offline = not plugins.get(Teacher, ds.teacher.name).uses_engine
    return recipe


def load_recipe(path: str | Path, plugins: PluginSet | None = None) -> Recipe:
    """Read and validate the recipe at ``path`` (raises :class:`UserError`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("no such recipe file", where=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read recipe: {exc.__class__.__name__}", where=str(path)) from None
    return parse_recipe(text, path, plugins)
