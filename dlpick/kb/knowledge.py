"""Load, validate and overlay the YAML knowledge base.

Validation uses the pydantic models in `schema`; the validated data is cached as JSON so
that `recommend` pays for pydantic only when a knowledge file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dlpick import __version__
from dlpick.errors import BadInput, KnowledgeError
from dlpick.kb import model
from dlpick.kb.model import Adoption, Builds, Criteria, Framework, Vocabulary

ENV_VAR = "DLPICK_KNOWLEDGE"
SHARED_FILES = ("vocabulary.yaml", "criteria.yaml", "adoption.yaml")
OPTIONAL_FILES = ("builds.yaml",)  # a team's folder may leave them out; the built-in one has them


def builtin_dir() -> Path:
    """The knowledge shipped with dlpick: inside the wheel, or the source tree's `knowledge/`."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_data" / "knowledge", here.parent / "knowledge"):
        if (candidate / "vocabulary.yaml").is_file():
            return candidate
    raise KnowledgeError([f"{here}: dlpick's built-in knowledge base is missing (broken install?)"])


@dataclass(frozen=True)
class Knowledge:
    """The validated knowledge base as a typed, read-only model (`dlpick.kb.model`)."""

    vocabulary: Vocabulary
    criteria: Criteria
    adoption: Adoption
    frameworks: Mapping[str, Framework]
    dirs: tuple[str, ...]
    digest: str
    origin: Mapping[str, str] = field(default_factory=dict)  # framework id -> file it came from
    as_of: str = "unknown"  # the newest `as_of` of any framework fact: when the knowledge base was last checked
    builds: Builds | None = None  # knowledge/builds.yaml (also attached to each Framework as `.builds`)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Knowledge:
        """From the validated plain data (`validate_data`'s, or the cache's): no pydantic involved."""
        builds = model.builds_from_json(data.get("builds"))
        variants = builds.frameworks if builds is not None else {}
        frameworks = {
            fid: model.framework_from_json(fw, variants.get(fid, ())) for fid, fw in data["frameworks"].items()
        }
        return cls(
            vocabulary=model.vocabulary_from_json(data["vocabulary"]),
            criteria=model.criteria_from_json(data["criteria"]),
            adoption=model.adoption_from_json(data["adoption"]),
            frameworks=MappingProxyType(frameworks),
            dirs=tuple(data["dirs"]),
            digest=data["digest"],
            origin=MappingProxyType(dict(data.get("origin") or {})),
            as_of=max(fact_dates(data["frameworks"]), default="unknown"),
            builds=builds,
        )

    @property
    def version(self) -> str:
        return f"dlpick {__version__}, knowledge {self.digest[:12]}"

    def framework(self, framework_id: str) -> Framework:
        from dlpick.kb.vocab import check_id

        check_id("framework", framework_id, self.frameworks)
        return self.frameworks[framework_id]


def fact_dates(value: Any) -> list[str]:
    """The `as_of` date of every sourced fact under `value` (plain data, e.g. a framework's `to_json()`)."""
    if isinstance(value, Mapping):
        found = [value["as_of"]] if isinstance(value.get("as_of"), str) else []
        for child in value.values():
            found.extend(fact_dates(child))
        return found
    if isinstance(value, list):
        return [d for child in value for d in fact_dates(child)]
    return []


def knowledge_dirs(extra: str | os.PathLike[str] | None = None) -> list[Path]:
    """Built-in first, then $DLPICK_KNOWLEDGE, then --knowledge: later ones override."""
    dirs = [builtin_dir()]
    for raw in (os.environ.get(ENV_VAR), extra):
        if raw:
            path = Path(raw).expanduser()
            if not path.is_dir():
                raise BadInput(f"{path}: knowledge folder not found", hint="pass a folder with frameworks/*.yaml")
            dirs.append(path)
    return dirs


def _files(dirs: list[Path]) -> list[Path]:
    files = []
    for directory in dirs:
        files += [directory / name for name in (*SHARED_FILES, *OPTIONAL_FILES) if (directory / name).is_file()]
        files += sorted((directory / "frameworks").glob("*.yaml"))
    return files


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}\n".encode())
    return digest.hexdigest()


def _cache_path(fingerprint: str) -> Path | None:
    if os.environ.get("DLPICK_NO_CACHE"):
        return None
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dlpick")) / f"knowledge-{fingerprint[:24]}.json"


def load(extra: str | os.PathLike[str] | None = None) -> Knowledge:
    """The merged knowledge base; raises KnowledgeError listing every problem."""
    dirs = knowledge_dirs(extra)
    files = _files(dirs)
    fingerprint = _fingerprint(files)
    cache = _cache_path(fingerprint)
    if cache is not None and cache.is_file():
        try:
            return Knowledge.from_data(json.loads(cache.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            pass  # a damaged cache is rebuilt below
    data, problems = validate_data(dirs)
    if problems or data is None:
        raise KnowledgeError(problems)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(cache)
        except OSError:
            pass  # caching is an optimisation only
    return Knowledge.from_data(data)


def _merge(base: Any, overlay: Any) -> Any:
    """Mappings merge key by key; anything else in the overlay replaces the base."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return overlay


def _read_mapping(path: Path, problems: list[str]) -> dict[str, Any] | None:
    from dlpick import yamlfile

    try:
        data = yamlfile.load(path)
    except BadInput as exc:
        problems.append(exc.message)
        return None
    if not isinstance(data, dict):
        problems.append(f"{path}:1: (top level): expected a mapping of fields, got {type(data).__name__}")
        return None
    return data


def validate_dirs(dirs: list[Path]) -> tuple[Knowledge | None, list[str]]:
    """Validate every file (collecting all problems, not just the first) and merge the overlays."""
    data, problems = validate_data(dirs)
    return (Knowledge.from_data(data) if data is not None else None), problems


def validate_data(dirs: list[Path]) -> tuple[dict[str, Any] | None, list[str]]:
    """`validate_dirs`, as the plain validated data that `Knowledge.from_data` reads (and the cache holds).

    Ctrl-C or a signal while pydantic builds or runs a validator would surface inside pydantic-core,
    wrapped in a SchemaError (a traceback, not dlpick's one line): it is held until validation ends."""
    from dlpick import processes

    with processes.signals_deferred():
        return _validate_data(dirs)


def _validate_data(dirs: list[Path]) -> tuple[dict[str, Any] | None, list[str]]:
    from pydantic import ValidationError

    from dlpick import yamlfile
    from dlpick.kb import schema

    problems: list[str] = []
    shared: dict[str, dict[str, Any]] = {name: {} for name in (*SHARED_FILES, *OPTIONAL_FILES)}
    shared_src: dict[str, Path] = {}
    raw_frameworks: dict[str, dict[str, Any]] = {}
    framework_src: dict[str, Path] = {}
    for directory in dirs:
        for name in (*SHARED_FILES, *OPTIONAL_FILES):
            path = directory / name
            if path.is_file() and (data := _read_mapping(path, problems)) is not None:
                shared[name] = _merge(shared[name], data)
                shared_src[name] = path
        for path in sorted((directory / "frameworks").glob("*.yaml")):
            data = _read_mapping(path, problems)
            if data is None:
                continue
            framework_id = str(data.get("id", path.stem))
            if framework_id != path.stem:
                line = yamlfile.line_of(path, ("id",))
                problems.append(f"{path}:{line}: id: {framework_id!r} does not match the file name {path.stem!r}")
                continue
            raw_frameworks[framework_id] = _merge(raw_frameworks.get(framework_id, {}), data)
            framework_src[framework_id] = path

    validated: dict[str, Any] = {}
    shared_models: dict[str, type[schema.Strict]] = {
        "vocabulary.yaml": schema.Vocabulary,
        "criteria.yaml": schema.Criteria,
        "adoption.yaml": schema.Adoption,
        "builds.yaml": schema.Builds,
    }
    for name, shared_model in shared_models.items():
        if name in OPTIONAL_FILES and name not in shared_src:
            continue
        if name not in shared_src:
            problems.append(f"{dirs[0] / name}: missing (every knowledge base needs {', '.join(SHARED_FILES)})")
            continue
        try:
            validated[name] = shared_model.model_validate(shared[name]).model_dump(mode="json")
        except ValidationError as exc:
            problems += yamlfile.validation_problems(shared_src.get(name, Path(name)), exc)
    frameworks: dict[str, dict[str, Any]] = {}
    for framework_id, data in sorted(raw_frameworks.items()):
        try:
            entry = schema.Framework.model_validate(data)
        except ValidationError as exc:
            problems += yamlfile.validation_problems(framework_src[framework_id], exc)
            continue
        frameworks[framework_id] = entry.model_dump(mode="json", exclude_none=True)
    if any(name not in validated for name in SHARED_FILES):
        return None, problems

    vocabulary = validated["vocabulary.yaml"]
    # A team's knowledge folder may add frameworks without editing the vocabulary.
    vocabulary["frameworks"] = list(dict.fromkeys([*vocabulary["frameworks"], *frameworks]))
    criteria_path = shared_src.get("criteria.yaml", Path("criteria.yaml"))
    problems += _cross_check(
        vocabulary, validated["criteria.yaml"], criteria_path, frameworks, framework_src, set(raw_frameworks)
    )
    problems += _check_packages(validated["adoption.yaml"], frameworks, framework_src)
    builds = validated.get("builds.yaml")
    if builds is not None:
        builds_path = shared_src["builds.yaml"]
        for fid in builds["frameworks"]:
            if fid not in frameworks and fid not in raw_frameworks:
                line = yamlfile.line_of(builds_path, ("frameworks", fid))
                problems.append(
                    f"{builds_path}:{line}: frameworks.{fid}: unknown framework {fid!r}{_suggest(fid, frameworks)}"
                )
    problems += [
        f"{shared_src.get('vocabulary.yaml')}: frameworks: {fid!r} has no frameworks/{yamlfile.one_line(fid)}.yaml"
        for fid in vocabulary["frameworks"]
        if fid not in frameworks and fid not in raw_frameworks
    ]
    digest = hashlib.sha256(
        json.dumps(
            [vocabulary, validated["criteria.yaml"], validated["adoption.yaml"], frameworks], sort_keys=True
        ).encode()
    ).hexdigest()
    # The digest covers what scoring reads; builds.yaml (doctor's package list) does not change a ranking.
    data = {
        "vocabulary": vocabulary,
        "criteria": validated["criteria.yaml"],
        "adoption": validated["adoption.yaml"],
        "frameworks": frameworks,
        "builds": builds,
        "dirs": [str(d) for d in dirs],
        "digest": digest,
        "origin": {fid: str(path) for fid, path in framework_src.items()},
    }
    return data, problems


def _suggest(value: str, valid: Any) -> str:
    from dlpick.kb.vocab import suggest

    return suggest(value, valid)


def _cross_check(
    vocabulary: dict[str, Any],
    criteria: dict[str, Any],
    criteria_path: Path,
    frameworks: dict[str, dict[str, Any]],
    sources: dict[str, Path],
    present: set[str] | None = None,
) -> list[str]:
    """Ids used as keys must come from the vocabulary; successors must be known frameworks.

    `present`: every framework with a file, valid or not. A successor whose own file is invalid is
    not a problem of the framework naming it: the invalid file's problems are reported, against it.
    """
    from dlpick import yamlfile
    from dlpick.kb.vocab import suggest

    problems = []

    def unknown(path: Path, loc: tuple[int | str, ...], kind: str, value: str, valid: Any) -> None:
        line = yamlfile.line_of(path, loc)
        problems.append(f"{path}:{line}: {yamlfile.field_path(loc)}: unknown {kind} {value!r}{suggest(value, valid)}")

    for name in criteria["default_weights"]:
        if name not in vocabulary["criteria"]:
            unknown(criteria_path, ("default_weights", name), "criterion", name, vocabulary["criteria"])
    for framework_id, data in frameworks.items():
        path = sources[framework_id]
        for section, kind in (("hardware", "hardware"), ("deployment", "deployment"), ("tasks", "task")):
            for key in data.get(section, {}):
                if key not in vocabulary[section]:
                    unknown(path, (section, key), kind, key, vocabulary[section])
        # Items limited to some hardware (`hardware: [...]`): a misspelt id would never count, silently.
        items: list[tuple[tuple[int | str, ...], Any]] = []
        for section in ("performance", "ecosystem", "ease_of_use"):
            items += [((section, index), item) for index, item in enumerate(data.get(section, []))]
        for section in ("deployment", "tasks"):
            for key, entries in (data.get(section) or {}).items():
                items += [((section, key, index), item) for index, item in enumerate(entries or [])]
        for loc, item in items:
            for hardware in (item.get("hardware") or []) if isinstance(item, dict) else []:
                if hardware not in vocabulary["hardware"]:
                    unknown(path, (*loc, "hardware"), "hardware", hardware, vocabulary["hardware"])
        successor = data["status"].get("successor")
        if successor and successor not in frameworks and successor not in (present or ()):
            unknown(path, ("status", "successor"), "framework", successor, frameworks)
    return problems


def _check_packages(
    adoption: dict[str, Any], frameworks: dict[str, dict[str, Any]], sources: dict[str, Path]
) -> list[str]:
    """Every library named as task evidence has its adoption recorded (ranked or not)."""
    from dlpick import yamlfile

    known = set(adoption["pypi_download_rank"]) | set(adoption["not_ranked"])
    problems = []
    for framework_id, data in frameworks.items():
        for task, evidence in data.get("tasks", {}).items():
            for index, item in enumerate(evidence):
                package = item.get("package")
                if package and package not in known:
                    path = sources[framework_id]
                    loc = ("tasks", task, index, "package")
                    line = yamlfile.line_of(path, loc)
                    problems.append(
                        f"{path}:{line}: {yamlfile.field_path(loc)}: {package!r} is not in adoption.yaml "
                        "(run tools/adoption.py)"
                    )
    return problems
