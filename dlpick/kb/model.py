"""The knowledge base as a typed, read-only model: what scoring, compare, doctor and verify read.

Built from the validated plain data (`knowledge.load` caches it as JSON), without pydantic: the
classes mirror `schema`'s models field by field. Dates stay ISO strings, as the JSON output shows
them; lists are tuples and mappings read-only (`MappingProxyType`).

The classes are frozen, slotted dataclasses made by `frozen` below rather than `dataclasses.dataclass`:
`recommend` pays for every class created at start-up, and the standard decorator costs about 0.4 ms a
class (some 10 ms for this module). `frozen` is declared a dataclass transform, so mypy checks every
constructor call and every field read as it would a frozen dataclass.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # a marker for type checkers only (mypy reads the 3.11 branch): nothing to do at run time

    def dataclass_transform(**_: Any) -> Callable[[T], T]:
        return lambda decorated: decorated


T = TypeVar("T")
EMPTY: Mapping[str, Any] = MappingProxyType({})

# Which hardware an install command is chosen for first, when a machine has several: the strongest
# accelerator; the CPU command is the fallback for any hardware without its own.
INSTALL_PREFERENCE = ("nvidia-gpu", "amd-gpu", "tpu", "ascend-npu", "intel-gpu", "apple-silicon", "kunlun-xpu", "cpu")


def install_order(hardware: Iterable[str]) -> list[str]:
    """The order in which hardware is tried for an install command: INSTALL_PREFERENCE's for the ids it
    knows, then any others (by id), then the CPU, which is always tried (every build runs on the CPU)."""
    given = set(hardware) - {"cpu"}
    known = [h for h in INSTALL_PREFERENCE if h in given]
    return [*known, *sorted(given - set(known)), "cpu"]


class ReadOnly:
    """Base of the model's classes: no attribute can be set or deleted after construction."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only (knowledge model)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only (knowledge model)")

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self._fields))


@dataclass_transform(kw_only_default=True, frozen_default=True)
def frozen(cls: type[T]) -> type[T]:
    """A frozen, slotted, keyword-only dataclass, made with one small `exec` (its `__init__`)."""
    annotations = cls.__dict__.get("__annotations__", {})
    own = [name for name in annotations if not name.startswith("_")]
    defaults = {name: cls.__dict__[name] for name in own if name in cls.__dict__}
    private = tuple(cls.__dict__.get("__slots__", ()))  # slots a class declares itself, outside its fields
    skip = {"__dict__", "__weakref__", *private}
    namespace = {k: v for k, v in cls.__dict__.items() if k not in defaults and k not in skip}
    namespace["__slots__"] = (*own, *private)
    inherited: tuple[str, ...] = getattr(cls, "_fields", ())
    namespace["_fields"] = (*inherited, *own)
    new = type(cls.__name__, cls.__bases__, namespace)
    all_defaults = {**getattr(cls, "_defaults", {}), **defaults}
    new._defaults = all_defaults  # type: ignore[attr-defined]
    fields = new._fields  # type: ignore[attr-defined]
    params = ", ".join(f"{n}=_d[{n!r}]" if n in all_defaults else n for n in fields)
    body = "".join(f"\n    _set(self, {n!r}, {n})" for n in fields) or "\n    pass"
    scope: dict[str, Any] = {"_d": all_defaults, "_set": object.__setattr__}
    exec(f"def __init__(self, *, {params}):{body}", scope)  # noqa: S102 - the field names are identifiers
    new.__init__ = scope["__init__"]  # type: ignore[misc]
    new.__qualname__ = cls.__qualname__
    new.__module__ = cls.__module__
    return new  # type: ignore[return-value]


# --- facts --------------------------------------------------------------------------------------------


@frozen
class Sourced(ReadOnly):
    """A fact: where it comes from (URL or document) and when it was checked (ISO date)."""

    source: str
    as_of: str
    note: str | None = None


@frozen
class Release(Sourced):
    version: str
    date: str


@frozen
class Status(Sourced):
    value: str  # active | maintenance | retired
    since: str | None = None
    successor: str | None = None
    migration: str | None = None


@frozen
class PythonSupport(Sourced):
    versions: tuple[str, ...]
    requires: str | None = None
    last_release_for: Mapping[str, str] = EMPTY  # older Python -> the newest release that still supports it


@frozen
class HardwareSupport(Sourced):
    level: str
    mechanism: str
    install: str | None = None
    os: tuple[str, ...] = ()  # where it runs natively (WSL2 counts as linux); empty: not recorded


@frozen
class DeploymentPath(Sourced):
    tool: str
    level: str
    requires: str | None = None
    status: str | None = None  # None: active
    last_release: Release | None = None
    hardware: tuple[str, ...] = ()
    package: str | None = None  # its PyPI name, where the path is a library


@frozen
class Distributed(Sourced):
    level: str
    tools: tuple[str, ...] = ()


@frozen
class Licence(Sourced):
    spdx: str


PERMISSIVE = frozenset({"Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MIT", "ISC"})  # as schema.PERMISSIVE


@frozen
class TaskEvidence(Sourced):
    name: str
    kind: str
    package: str | None = None
    status: str = "active"
    last_release: Release | None = None
    hardware: tuple[str, ...] = ()
    licence: Licence | None = None


@frozen
class Measure(Sourced):
    value: float


@frozen
class Releases(Measure):
    versions: tuple[str, ...] | None = None


@frozen
class Community(ReadOnly):
    github_stars: Measure | None = None
    pypi_download_rank: Measure | None = None
    releases_last_year: Releases | None = None

    def measures(self) -> tuple[tuple[str, Measure], ...]:
        """(name, measure) for each measure with a source, in the schema's order."""
        found = (
            ("github_stars", self.github_stars),
            ("pypi_download_rank", self.pypi_download_rank),
            ("releases_last_year", self.releases_last_year),
        )
        return tuple((name, measure) for name, measure in found if measure is not None)


@frozen
class MLPerfRound(Sourced):
    version: str
    date: str


@frozen
class Feature(Sourced):
    """A named capability that adds to a feature-list criterion (performance, ecosystem, ease of use)."""

    name: str
    kind: str
    hardware: tuple[str, ...] = ()
    package: str | None = None  # its PyPI name, where the feature is a library


@frozen
class PerformanceItem(Feature):
    round: MLPerfRound | None = None


@frozen
class BuildVariant(ReadOnly):
    """A distribution that installs a framework (a build of it, or a plugin), from knowledge/builds.yaml."""

    package: str
    exclusive: bool = False  # installs the same module as the framework's other exclusive builds
    cpu_build: bool = False  # a CPU build that a GPU build replaces (uninstall it first)


@frozen
class Builds(Sourced):
    """knowledge/builds.yaml: the distributions `dlpick doctor` looks for, per framework."""

    frameworks: Mapping[str, tuple[BuildVariant, ...]] = EMPTY


@frozen
class Framework(ReadOnly):
    __slots__ = ("_data",)  # the validated plain data, for to_json(); not a field

    id: str
    name: str
    summary: str
    homepage: str
    release: Release
    status: Status
    python: PythonSupport
    hardware: Mapping[str, HardwareSupport]
    deployment: Mapping[str, tuple[DeploymentPath, ...]]
    distributed: Distributed
    import_names: tuple[str, ...]
    repository: str | None = None
    packages: tuple[str, ...] = ()  # PyPI distribution names
    system_packages: Mapping[str, tuple[str, ...]] = EMPTY  # distribution (debian-bullseye) -> package names
    tasks: Mapping[str, tuple[TaskEvidence, ...]] = EMPTY
    community: Community = Community()
    performance: tuple[PerformanceItem, ...] = ()
    ecosystem: tuple[Feature, ...] = ()
    ease_of_use: tuple[Feature, ...] = ()
    unverified: tuple[str, ...] = ()
    builds: tuple[BuildVariant, ...] = ()  # from knowledge/builds.yaml
    licence: Licence | None = None

    @property
    def retired(self) -> bool:
        return self.status.value == "retired"

    @property
    def successor(self) -> str | None:
        """The framework id that carries on its work (retired frameworks)."""
        return self.status.successor

    def install_choice(self, hardware: Iterable[str]) -> tuple[str, str | None]:
        """(hardware id, command): the knowledge base's install command for the first of `install_order(hardware)`
        that has one (the strongest accelerator first, the CPU last); ("cpu", None) when none has one.
        The one rule for choosing an install command: `install_command`, doctor and verify use it."""
        for hardware_id in install_order(hardware):
            support = self.hardware.get(hardware_id)
            if support is not None and support.install:
                return hardware_id, support.install
        return "cpu", None

    def install_command(self, hardware_id: str = "cpu") -> str | None:
        """The command that installs a build for `hardware_id`: its own, else the CPU one (None: neither)."""
        return self.install_choice((hardware_id,))[1]

    @property
    def distributions(self) -> tuple[str, ...]:
        """Every distribution that installs it: `packages`, then the other builds and plugins."""
        return tuple(dict.fromkeys([*self.packages, *(b.package for b in self.builds)]))

    @property
    def exclusive_builds(self) -> frozenset[str]:
        """Builds that install the same module: two at once overwrite each other's files."""
        return frozenset(b.package for b in self.builds if b.exclusive)

    @property
    def cpu_builds(self) -> frozenset[str]:
        """CPU builds that a GPU build replaces."""
        return frozenset(b.package for b in self.builds if b.cpu_build)

    def to_json(self) -> dict[str, Any]:
        """Its facts as validated (what `dlpick show --json` prints); a copy."""
        data: dict[str, Any] = object.__getattribute__(self, "_data")
        return copy.deepcopy(data)


# --- shared files ------------------------------------------------------------------------------------


@frozen
class Between(ReadOnly):
    low: float
    high: float


@frozen
class RankScale(ReadOnly):
    best: float
    worst: float


@frozen
class AdoptionScale(ReadOnly):
    base: float
    best_rank: float
    worst_rank: float


@frozen
class CommunityScales(ReadOnly):
    github_stars: Between
    pypi_download_rank: RankScale
    releases_last_year: Between
    cadence_share: float = 1.0  # release cadence's weight in the mean, beside adoption measures' 1


@frozen
class Criteria(ReadOnly):
    """knowledge/criteria.yaml: how facts become 0..1 scores."""

    default_weights: Mapping[str, float]
    support_levels: Mapping[str, float]
    partial_path: float
    task_evidence: Mapping[str, float]
    evidence_status: Mapping[str, float]
    adoption: AdoptionScale
    performance_features: Mapping[str, float]
    ecosystem_features: Mapping[str, float]
    ease_of_use_features: Mapping[str, float]
    distributed_levels: Mapping[str, float]
    community: CommunityScales
    successor_familiarity_transfer: float
    mlperf_half_life_years: float
    feature_tasks: Mapping[str, tuple[str, ...]] = EMPTY
    feature_not_for: Mapping[str, tuple[str, ...]] = EMPTY
    secondary_hardware_share: float = 0.25
    unknown_adoption: float = 0.5

    def counts_for(self, kind: str, task: str) -> bool:
        """Whether a feature kind matters to a workload (`feature_tasks`; absent: it matters to every task)."""
        tasks = self.feature_tasks.get(kind)
        return (tasks is None or task in tasks) and task not in self.feature_not_for.get(kind, ())

    def features(self, criterion: str) -> Mapping[str, float]:
        """A feature-list criterion's values: performance, ecosystem or ease_of_use."""
        tables = {
            "performance": self.performance_features,
            "ecosystem": self.ecosystem_features,
            "ease_of_use": self.ease_of_use_features,
        }
        return tables[criterion]


@frozen
class Adoption(Sourced):
    """knowledge/adoption.yaml: PyPI download ranks of the libraries named as task evidence."""

    pypi_download_rank: Mapping[str, int] = EMPTY
    not_ranked: tuple[str, ...] = ()


@frozen
class Vocabulary(ReadOnly):
    """knowledge/vocabulary.yaml: the ids (with descriptions) every other file and the answers use."""

    frameworks: tuple[str, ...]
    tasks: Mapping[str, str]
    hardware: Mapping[str, str]
    deployment: Mapping[str, str]
    criteria: Mapping[str, str]

    def ids(self, kind: str) -> Sequence[str]:
        """The ids of one kind: frameworks, tasks, hardware, deployment or criteria."""
        return tuple(getattr(self, kind))


# --- from the validated plain data ---------------------------------------------------------------------


def _ro(mapping: Mapping[str, T]) -> Mapping[str, T]:
    return MappingProxyType(dict(mapping))


def _each(items: Iterable[Any] | None, build: Callable[[dict[str, Any]], T]) -> tuple[T, ...]:
    return tuple(build(item) for item in items or ())


def _sourced(data: Mapping[str, Any]) -> dict[str, Any]:
    return {"source": data["source"], "as_of": data["as_of"], "note": data.get("note")}


def _release(data: Mapping[str, Any] | None) -> Release | None:
    if not data:
        return None
    return Release(**_sourced(data), version=data["version"], date=data["date"])


def _path(data: dict[str, Any]) -> DeploymentPath:
    return DeploymentPath(
        **_sourced(data),
        tool=data["tool"],
        level=data["level"],
        requires=data.get("requires"),
        status=data.get("status"),
        package=data.get("package"),
        last_release=_release(data.get("last_release")),
        hardware=tuple(data.get("hardware") or ()),
    )


def _evidence(data: dict[str, Any]) -> TaskEvidence:
    return TaskEvidence(
        **_sourced(data),
        name=data["name"],
        kind=data["kind"],
        package=data.get("package"),
        status=data.get("status") or "active",
        last_release=_release(data.get("last_release")),
        hardware=tuple(data.get("hardware") or ()),
        licence=_licence(data.get("licence")),
    )


def _licence(data: Mapping[str, Any] | None) -> Licence | None:
    return Licence(**_sourced(data), spdx=data["spdx"]) if data else None


def _feature(data: dict[str, Any]) -> Feature:
    return Feature(
        **_sourced(data),
        name=data["name"],
        kind=data["kind"],
        hardware=tuple(data.get("hardware") or ()),
        package=data.get("package"),
    )


def _performance(data: dict[str, Any]) -> PerformanceItem:
    rnd = data.get("round")
    return PerformanceItem(
        **_sourced(data),
        name=data["name"],
        kind=data["kind"],
        hardware=tuple(data.get("hardware") or ()),
        package=data.get("package"),
        round=MLPerfRound(**_sourced(rnd), version=rnd["version"], date=rnd["date"]) if rnd else None,
    )


def _measure(data: Mapping[str, Any] | None) -> Measure | None:
    return Measure(**_sourced(data), value=float(data["value"])) if data else None


def _community(data: Mapping[str, Any]) -> Community:
    releases = data.get("releases_last_year")
    versions = releases.get("versions") if releases else None
    return Community(
        github_stars=_measure(data.get("github_stars")),
        pypi_download_rank=_measure(data.get("pypi_download_rank")),
        releases_last_year=(
            Releases(
                **_sourced(releases),
                value=float(releases["value"]),
                versions=tuple(str(v) for v in versions) if versions is not None else None,
            )
            if releases
            else None
        ),
    )


def framework_from_json(data: dict[str, Any], builds: Sequence[BuildVariant] = ()) -> Framework:
    """A Framework from its validated plain data (`schema.Framework`'s JSON dump)."""
    status, python, dist = data["status"], data["python"], data["distributed"]
    fw = Framework(
        id=data["id"],
        name=data["name"],
        summary=data["summary"],
        homepage=data["homepage"],
        repository=data.get("repository"),
        packages=tuple(data.get("packages") or ()),
        system_packages=_ro({k: tuple(v) for k, v in (data.get("system_packages") or {}).items()}),
        import_names=tuple(data["import_names"]),
        licence=_licence(data.get("licence")),
        release=Release(**_sourced(data["release"]), version=data["release"]["version"], date=data["release"]["date"]),
        status=Status(
            **_sourced(status),
            value=status["value"],
            since=status.get("since"),
            successor=status.get("successor"),
            migration=status.get("migration"),
        ),
        python=PythonSupport(
            **_sourced(python),
            versions=tuple(python["versions"]),
            requires=python.get("requires"),
            last_release_for=_ro(python.get("last_release_for") or {}),
        ),
        hardware=_ro(
            {
                hw: HardwareSupport(
                    **_sourced(s),
                    level=s["level"],
                    mechanism=s["mechanism"],
                    install=s.get("install"),
                    os=tuple(s.get("os") or ()),
                )
                for hw, s in data["hardware"].items()
            }
        ),
        deployment=_ro({target: _each(paths, _path) for target, paths in data["deployment"].items()}),
        distributed=Distributed(**_sourced(dist), level=dist["level"], tools=tuple(dist.get("tools") or ())),
        tasks=_ro({task: _each(items, _evidence) for task, items in (data.get("tasks") or {}).items()}),
        community=_community(data.get("community") or {}),
        performance=_each(data.get("performance"), _performance),
        ecosystem=_each(data.get("ecosystem"), _feature),
        ease_of_use=_each(data.get("ease_of_use"), _feature),
        unverified=tuple(data.get("unverified") or ()),
        builds=tuple(builds),
    )
    object.__setattr__(fw, "_data", data)
    return fw


def builds_from_json(data: Mapping[str, Any] | None) -> Builds | None:
    if not data:
        return None
    variants = {
        fid: tuple(
            BuildVariant(
                package=item["package"], exclusive=bool(item.get("exclusive")), cpu_build=bool(item.get("cpu_build"))
            )
            for item in items
        )
        for fid, items in (data.get("frameworks") or {}).items()
    }
    return Builds(**_sourced(data), frameworks=_ro(variants))


def criteria_from_json(data: Mapping[str, Any]) -> Criteria:
    scales, adoption = data["community"], data["adoption"]
    return Criteria(
        default_weights=_ro(data["default_weights"]),
        support_levels=_ro(data["support_levels"]),
        partial_path=data["partial_path"],
        task_evidence=_ro(data["task_evidence"]),
        evidence_status=_ro(data["evidence_status"]),
        adoption=AdoptionScale(
            base=adoption["base"], best_rank=adoption["best_rank"], worst_rank=adoption["worst_rank"]
        ),
        performance_features=_ro(data["performance_features"]),
        ecosystem_features=_ro(data["ecosystem_features"]),
        ease_of_use_features=_ro(data["ease_of_use_features"]),
        distributed_levels=_ro(data["distributed_levels"]),
        community=CommunityScales(
            github_stars=Between(**scales["github_stars"]),
            pypi_download_rank=RankScale(**scales["pypi_download_rank"]),
            releases_last_year=Between(**scales["releases_last_year"]),
            cadence_share=scales.get("cadence_share", 1.0),
        ),
        successor_familiarity_transfer=data["successor_familiarity_transfer"],
        mlperf_half_life_years=data["mlperf_half_life_years"],
        feature_tasks=_ro({k: tuple(v) for k, v in (data.get("feature_tasks") or {}).items()}),
        feature_not_for=_ro({k: tuple(v) for k, v in (data.get("feature_not_for") or {}).items()}),
        secondary_hardware_share=data.get("secondary_hardware_share", 0.25),
        unknown_adoption=data.get("unknown_adoption", 0.5),
    )


def adoption_from_json(data: Mapping[str, Any]) -> Adoption:
    return Adoption(
        **_sourced(data),
        pypi_download_rank=_ro(data["pypi_download_rank"]),
        not_ranked=tuple(data.get("not_ranked") or ()),
    )


def vocabulary_from_json(data: Mapping[str, Any]) -> Vocabulary:
    vocabulary = Vocabulary(
        frameworks=tuple(data["frameworks"]),
        tasks=_ro(data["tasks"]),
        hardware=_ro(data["hardware"]),
        deployment=_ro(data["deployment"]),
        criteria=_ro(data["criteria"]),
    )
    return vocabulary
