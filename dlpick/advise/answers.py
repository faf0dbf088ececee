"""The answers a team gives: parsing (file and flags), checking and normalising.

Hand-checked rather than pydantic: `recommend` must start fast, and the checks are few.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpick.errors import BadInput
from dlpick.kb.vocab import check_id

if TYPE_CHECKING:
    from dlpick.kb.model import Vocabulary

KEYS = (
    "task",
    "hardware",
    "deployment",
    "familiarity",
    "priorities",
    "python",
    "include_retired",
    "primary_hardware",
    "scale",
    "licence_policy",
    "devices",
    "os",
)
OSES = ("linux", "windows", "macos")  # the team's operating system: native Windows matters for GPU support
# What a deployment target's device has, where a path needs it (an Ethos-U NPU, a Cortex-M core).
DEVICE_KEYS = {"core": ("cortex-m", "cortex-a", "xtensa", "risc-v", "other"), "npu": ("none", "ethos-u", "other")}
SCALES = ("one-device", "one-machine", "multi-node")  # where training runs: distributed counts only at multi-node
LICENCE_POLICIES = ("any", "permissive-only")
LEVEL_MAX = 5


PYTHON_VERSION = re.compile(r"([0-9]+)\.([0-9]+)", re.ASCII)
PYTHON_MINOR = (8, 20)  # the Python 3 minor versions an answer may name


def python_version(value: Any, minors: tuple[int, int] = PYTHON_MINOR) -> tuple[str, str | None]:
    """("3.11", None) for a usable Python version, else (..., why not): quoted, ASCII 3.MINOR, in range.

    An unquoted 3.10 is the YAML float 3.1: refused with a hint, never read as another version.
    """
    if isinstance(value, float) and not isinstance(value, bool):
        return "", (
            f'expected a quoted version like "3.11", got the number {value!r} '
            '(YAML reads an unquoted 3.10 as the number 3.1: write "3.10")'
        )
    if not isinstance(value, str):
        return "", f'expected a version like "3.11", got {_show(value)}'
    match = PYTHON_VERSION.fullmatch(value.strip())
    if not match:
        return "", f'expected a version like "3.11", got {_show(value)}'
    major, minor = int(match[1]), int(match[2])
    if major != 3 or not minors[0] <= minor <= minors[1]:
        return "", f"Python {value.strip()} is not a version dlpick knows (3.{minors[0]} .. 3.{minors[1]})"
    return f"{major}.{minor}", None


def running_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Answers:
    task: str
    hardware: list[str] = field(default_factory=list)
    deployment: list[str] = field(default_factory=list)
    familiarity: dict[str, int] = field(default_factory=dict)
    priorities: dict[str, float] = field(default_factory=dict)
    python: str = field(default_factory=running_python)
    include_retired: bool = False
    primary_hardware: str | None = None  # None: the first of `hardware`; the others are secondary
    scale: str | None = None  # None: one-machine (one device or several in one machine)
    licence_policy: str | None = None  # None: any licence; permissive-only: no copyleft framework or library
    devices: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> {core: ..., npu: ...}
    os: str | None = None  # linux | windows | macos; None: not said

    @property
    def primary(self) -> str | None:
        """The hardware the work is trained on: `primary_hardware`, else the first listed."""
        return self.primary_hardware or (self.hardware[0] if self.hardware else None)

    @property
    def secondary(self) -> list[str]:
        return [h for h in self.hardware if h != self.primary]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FLAGS = {
    "task": "--task",
    "hardware": "--hardware",
    "deployment": "--deploy",
    "familiarity": "--familiar",
    "priorities": "--weight",
    "python": "--python",
    "include_retired": "--include-retired",
    "primary_hardware": "--primary-hardware",
    "scale": "--scale",
    "licence_policy": "--licence-policy",
    "devices": "devices",  # answers files only: a list of device descriptions
    "os": "--os",
}


def _label(source: str | dict[str, str], key: str) -> str:
    return source.get(key, "") if isinstance(source, dict) else source


def _where(source: str | dict[str, str], key: str) -> str:
    """Name the place a value came from: 'team.yaml: familiarity.jax', or the flag '--familiar'."""
    label = _label(source, key.split(".", 1)[0])
    if label.startswith("--"):
        return label
    return f"{label}: {key}" if label else key


def _as_list(value: Any, key: str, source: str | dict[str, str]) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{_where(source, key)}: expected a list of ids, got {_show(value)}")
    return list(dict.fromkeys(value))


def _show(value: Any, limit: int = 60) -> str:
    """repr() of a value for an error message, shortened: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


INTEGER = re.compile(r"[0-9]+", re.ASCII)
DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?|\.[0-9]+", re.ASCII)


def _number(value: Any, key: str, source: str | dict[str, str], integer: bool) -> float:
    """A finite level 0..LEVEL_MAX: a YAML number or a flag's ASCII digits; never a bool."""
    kind = "a whole number" if integer else "a number"
    if isinstance(value, str) and (INTEGER if integer else DECIMAL).fullmatch(value.strip()):
        value = int(value.strip()) if integer else float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{_where(source, key)}: expected {kind} 0..{LEVEL_MAX}, got {_show(value)}")
    if not math.isfinite(value):
        raise BadInput(f"{_where(source, key)}: expected {kind} 0..{LEVEL_MAX}, got {value}")
    if integer and value != int(value):
        raise BadInput(f"{_where(source, key)}: expected a whole number 0..{LEVEL_MAX}, got {value!r}")
    if not 0 <= value <= LEVEL_MAX:
        raise BadInput(f"{_where(source, key)}: must be between 0 and {LEVEL_MAX}, got {value!r}")
    return value


def _levels(
    value: Any, key: str, valid: Sequence[str], kind: str, source: str | dict[str, str], integer: bool
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput(f"{_where(source, key)}: expected a mapping like {{{valid[0]}: 3}}, got {_show(value)}")
    out = {}
    for name, level in value.items():
        check_id(kind, str(name), valid, where=_where(source, key))
        number = _number(level, f"{key}.{name}", source, integer)
        out[str(name)] = int(number) if integer else number
    return out


def normalise(raw: dict[str, Any], vocabulary: Vocabulary, source: str | dict[str, str] = "") -> Answers:
    """Check raw answers against the vocabulary; raise BadInput naming the field.

    `source` names where values came from: a file name, or per key (a file or a flag).
    """
    if not isinstance(raw, dict):
        raise BadInput(f"{source or 'answers'}: expected a mapping of answers (task: ..., hardware: [...])")
    for key in raw:
        check_id("answer key", str(key), KEYS, where=_label(source, str(key)))
    task = raw.get("task")
    if task is None:
        raise BadInput(f"{_where(source, 'task')}: missing", hint="e.g. task: image-classification, or --task")
    check_id("task", str(task), vocabulary.tasks, where=_where(source, "task"))
    answers = Answers(task=str(task))
    for key, valid, kind in (
        ("hardware", vocabulary.hardware, "hardware"),
        ("deployment", vocabulary.deployment, "target"),
    ):
        if raw.get(key) is not None:
            values = _as_list(raw[key], key, source)
            for value in values:
                check_id(kind, value, valid, where=_where(source, key))
            setattr(answers, key, values)
    if raw.get("familiarity") is not None:
        answers.familiarity = _levels(
            raw["familiarity"], "familiarity", vocabulary.frameworks, "framework", source, integer=True
        )
    if raw.get("priorities") is not None:
        answers.priorities = _levels(
            raw["priorities"], "priorities", list(vocabulary.criteria), "criterion", source, integer=False
        )
    if raw.get("python") is not None:
        python, problem = python_version(raw["python"])
        if problem:
            raise BadInput(f"{_where(source, 'python')}: {problem}")
        answers.python = python
    if raw.get("include_retired") is not None:
        if not isinstance(raw["include_retired"], bool):
            raise BadInput(
                f"{_where(source, 'include_retired')}: expected true or false, got {_show(raw['include_retired'])}"
            )
        answers.include_retired = raw["include_retired"]
    for key, choices in (("scale", SCALES), ("licence_policy", LICENCE_POLICIES), ("os", OSES)):
        if raw.get(key) is not None:
            check_id(key.replace("_", " "), str(raw[key]), choices, where=_where(source, key))
            setattr(answers, key, str(raw[key]))
    if raw.get("devices") is not None:
        answers.devices = _devices(raw["devices"], vocabulary, source)
    if raw.get("primary_hardware") is not None:
        primary = str(raw["primary_hardware"])
        check_id("hardware", primary, vocabulary.hardware, where=_where(source, "primary_hardware"))
        if primary not in answers.hardware:
            answers.hardware = [primary, *answers.hardware]
        answers.primary_hardware = primary
    return answers


def _devices(value: Any, vocabulary: Vocabulary, source: str | dict[str, str]) -> dict[str, dict[str, str]]:
    """{microcontroller: {core: cortex-m, npu: none}}: what each target's device has."""
    where = _where(source, "devices")
    if not isinstance(value, dict):
        raise BadInput(f"{where}: expected a mapping like {{microcontroller: {{core: cortex-m, npu: none}}}}")
    out: dict[str, dict[str, str]] = {}
    for target, described in value.items():
        check_id("target", str(target), vocabulary.deployment, where=where)
        if not isinstance(described, dict):
            raise BadInput(f"{where}.{target}: expected a mapping like {{core: cortex-m, npu: none}}")
        out[str(target)] = {}
        for key, item in described.items():
            check_id("device property", str(key), DEVICE_KEYS, where=f"{where}.{target}")
            check_id(str(key), str(item), DEVICE_KEYS[str(key)], where=f"{where}.{target}.{key}")
            out[str(target)][str(key)] = str(item)
    return out


def read_file(path: Path) -> dict[str, Any]:
    """The raw mapping of an answers file (checked later by `normalise`)."""
    from dlpick import yamlfile

    data = yamlfile.load(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}:1: expected a mapping of answers (task: ..., hardware: [...])")
    return data


def parse_pairs(pairs: list[str], flag: str) -> dict[str, str]:
    """['pytorch=4', 'jax=2'] -> {'pytorch': '4', 'jax': '2'}."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise BadInput(f"{flag} {pair!r}: expected NAME=LEVEL, e.g. {flag} pytorch=4")
        out[name.strip()] = value.strip()
    return out


def layer(
    base: dict[str, Any], base_name: str, top: dict[str, Any], top_name: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Answers `top` (an answers file) over `base` (a team profile's), mappings key by key, with origins."""
    merged = dict(base)
    origin = {str(key): base_name for key in base}
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
        origin[str(key)] = top_name
    return merged, origin


def merge(
    file_answers: dict[str, Any], flags: dict[str, Any], file_name: str = "", origin: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Flags override the file; mappings (familiarity, priorities) merge key by key.

    Returns the merged answers and, per key, where it came from (for error messages); `origin`
    gives the origins of `file_answers` when they were layered from several files.
    """
    merged = dict(file_answers)
    origin = {str(key): file_name for key in [*KEYS, *file_answers]} | (origin or {})
    for key, value in flags.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
        origin[key] = FLAGS[key]
    return merged, origin


def dump(answers: Answers, path: Path) -> None:
    """Write answers as YAML that `--answers` reads back."""
    import yaml

    data = {k: v for k, v in answers.to_dict().items() if v not in ([], {}, None)}
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot write answers: {exc.strerror or exc}") from None
