"""Pydantic models of the knowledge base (validation only; everything else reads `dlpick.kb.model`)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator, model_validator

SupportLevel = Literal[
    "primary", "official", "vendor", "conversion", "community", "legacy", "experimental", "cpu-fallback"
]
EvidenceKind = Literal["official-library", "model-zoo", "third-party-library", "hub", "example"]
PerformanceFeature = Literal["graph-compiler", "mixed-precision", "mlperf-training", "custom-kernels"]
EcosystemFeature = Literal[
    "model-hub",
    "hf-transformers",
    "onnx-export",
    "experiment-tracking",
    "high-level-trainer",
    "probabilistic-programming",
]
UsabilityFeature = Literal["eager-execution", "high-level-api", "official-tutorials"]
DistributedLevel = Literal["none", "single-node", "multi-node", "sharded"]
EvidenceStatus = Literal["active", "maintenance", "dormant"]
# SPDX ids of the licences the knowledge base records; PERMISSIVE ones a `permissive-only` team may use.
SpdxLicence = Literal["Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MIT", "ISC", "LGPL-3.0", "GPL-3.0", "AGPL-3.0"]
PERMISSIVE = ("Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MIT", "ISC")
# A source that starts like a link (a scheme, "http", "www.") is checked as one; anything else is a
# document named in words ("our lab test 2026-11").
URL_LIKE = re.compile(r"(?i)(https?\b|www\.|[a-z][a-z0-9+.-]*:/)")
WELL_FORMED_URL = re.compile(r"https?://(localhost|[^\s/?#:@]+\.[^\s/?#:@]+)(:\d+)?([/?#]\S*)?")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sourced(Strict):
    """A fact: where it comes from and when it was checked."""

    source: str = Field(min_length=8, description="URL or document the fact is taken from")
    as_of: dt.date = Field(description="When the source was read")
    note: str | None = None

    @field_validator("source")
    @classmethod
    def _source_is_url_or_document(cls, value: str) -> str:
        if URL_LIKE.match(value.strip()):  # meant as a link: it must be one a reader can open
            if not WELL_FORMED_URL.fullmatch(value):
                raise ValueError(f"malformed URL {value!r}: expected http(s)://host/path without spaces")
            HttpUrl(value)
        return value


class Release(Sourced):
    version: str
    date: dt.date


class Status(Sourced):
    value: Literal["active", "maintenance", "retired"]
    since: dt.date | None = None
    successor: str | None = Field(None, description="framework id that carries on its work")
    migration: str | None = Field(None, description="how projects move off it, in one or two sentences")

    @model_validator(mode="after")
    def _since_when_not_active(self) -> Status:
        if self.value != "active" and self.since is None:
            raise ValueError(f"a {self.value} framework needs `since`")
        return self


class PythonSupport(Sourced):
    versions: list[str] = Field(min_length=1)
    requires: str | None = Field(None, description="the package's Requires-Python, e.g. '>=3.10'")
    last_release_for: dict[str, str] = Field(
        default_factory=dict, description="older Python -> the newest release that still supports it"
    )

    @field_validator("versions", "last_release_for")
    @classmethod
    def _versions_look_like_3x(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        for version in value:
            match = re.fullmatch(r"3\.(0|[1-9][0-9]?)", version, re.ASCII)
            if not match:
                raise ValueError(f"{version!r} is not a Python version like '3.11'")
        return value


class HardwareSupport(Sourced):
    level: SupportLevel
    mechanism: str = Field(description="CUDA, ROCm, MPS/Metal, XLA/TPU, CANN, XPU ...")
    install: str | None = Field(None, description="the install command for this hardware")
    os: list[Literal["linux", "windows", "macos"]] = Field(
        default_factory=list,
        description="operating systems where this support runs natively (WSL2 counts as linux); empty: not recorded",
    )


class Licence(Sourced):
    """The licence a framework or library is released under (its repository's LICENSE or registry page)."""

    spdx: SpdxLicence


class LastRelease(Release):
    """A library's newest non-pre-release on its registry: the fact the two-year dormant rule reads."""


class DeploymentPath(Sourced):
    tool: str
    level: SupportLevel
    package: str | None = Field(
        None,
        description="its PyPI name, where the path is a library (ExecuTorch: executorch); `dlpick kb audit` reads it",
    )
    requires: str | None = Field(
        None, description="what a device must have for this path, when it covers only part of the target"
    )
    status: EvidenceStatus | None = Field(
        None, description="absent: active; maintenance: fixes only, per its maintainers; dormant: no release 2+ years"
    )
    last_release: LastRelease | None = Field(None, description="its newest release, from its registry")
    hardware: list[str] = Field(
        default_factory=list,
        description="hardware ids the path runs on, when its docs name only some (server/batch paths run on the "
        "team's hardware); empty: any. It counts only for teams on one of them (or teams that named none)",
    )


class Distributed(Sourced):
    level: DistributedLevel
    tools: list[str] = Field(default_factory=list)


class TaskEvidence(Sourced):
    name: str
    kind: EvidenceKind
    package: str | None = Field(None, description="its PyPI name; its download rank is in adoption.yaml")
    status: EvidenceStatus = Field(
        "active", description="maintenance: fixes only, per its maintainers; dormant: no release for 2+ years"
    )
    last_release: LastRelease | None = Field(None, description="its newest release, from its registry")
    licence: Licence | None = Field(None, description="its licence; absent: not recorded (said under a licence policy)")
    hardware: list[str] = Field(
        default_factory=list,
        description="hardware ids it is documented on, when only some (a TPU reference model); empty: any. It counts "
        "only for teams on one of them (or teams that named none)",
    )


class Measure(Sourced):
    value: float = Field(ge=0, allow_inf_nan=False)


class Releases(Measure):
    """Releases in the year before `as_of`: `value` of them, `versions` lists each (feature releases
    X.Y.0 are told from patches by the version itself)."""

    versions: list[str] | None = None

    @model_validator(mode="after")
    def _count_matches(self) -> Releases:
        if self.versions is not None and len(self.versions) != self.value:
            raise ValueError(f"value is {self.value:g} but versions lists {len(self.versions)}")
        return self


class Community(Strict):
    github_stars: Measure | None = None
    pypi_download_rank: Measure | None = None
    releases_last_year: Releases | None = None


class Feature(Sourced):
    """A named capability that adds to a feature-list criterion."""

    name: str
    package: str | None = Field(
        None, description="its PyPI name, where the feature is a library (Pyro: pyro-ppl); `dlpick kb audit` reads it"
    )
    hardware: list[str] = Field(
        default_factory=list, description="hardware ids it was shown on; empty: not hardware-specific"
    )


class MLPerfRound(Sourced):
    """The round an MLPerf result was published in: its age decides how much the result still says."""

    version: str = Field(pattern=r"^v[0-9]+\.[0-9]+$", description="the round, e.g. 'v4.0'")
    date: dt.date = Field(
        description="when the round's results came out: the date of the commit that added them to MLCommons' "
        "results repository (training_results_vX.Y)"
    )


class PerformanceItem(Feature):
    kind: PerformanceFeature
    round: MLPerfRound | None = Field(None, description="an MLPerf result's round; required for mlperf-training")

    @model_validator(mode="after")
    def _round_for_mlperf_only(self) -> PerformanceItem:
        if self.kind == "mlperf-training" and self.round is None:
            raise ValueError("an mlperf-training result needs `round` (version, date, source, as_of)")
        if self.kind != "mlperf-training" and self.round is not None:
            raise ValueError(f"`round` is for mlperf-training results, not {self.kind}")
        return self


class EcosystemItem(Feature):
    kind: EcosystemFeature


class UsabilityItem(Feature):
    kind: UsabilityFeature


class Framework(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    summary: str
    homepage: str
    repository: str | None = None
    packages: list[str] = Field(default_factory=list, description="PyPI distribution names (none if not on PyPI)")
    system_packages: dict[str, list[str]] = Field(
        default_factory=dict, description="distribution (e.g. debian-bullseye) -> its package names"
    )
    import_names: list[str] = Field(min_length=1, description="modules that `import` loads")
    licence: Licence | None = Field(
        None, description="the framework's own licence (every built-in framework records one; tests/test_knowledge.py)"
    )
    release: Release
    status: Status
    python: PythonSupport
    hardware: dict[str, HardwareSupport] = Field(description="hardware id -> support; absent = none")
    deployment: dict[str, list[DeploymentPath]] = Field(description="target id -> paths; absent = none")
    distributed: Distributed
    tasks: dict[str, list[TaskEvidence]] = Field(default_factory=dict)
    community: Community = Field(default_factory=Community)
    performance: list[PerformanceItem] = Field(default_factory=list)
    ecosystem: list[EcosystemItem] = Field(default_factory=list)
    ease_of_use: list[UsabilityItem] = Field(default_factory=list)
    unverified: list[str] = Field(
        default_factory=list, description="claims looked for but not confirmed, left out of scoring"
    )

    @model_validator(mode="after")
    def _installable_somehow(self) -> Framework:
        if not self.packages and not self.system_packages:
            raise ValueError("give `packages` (PyPI) or `system_packages` (e.g. debian-bullseye: [...])")
        return self


Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]  # a 0..1 part of a criterion's score
Weight = Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)]  # a criterion's default weight, as answers'
Rank = Annotated[float, Field(ge=1, allow_inf_nan=False)]  # a download rank: 1 is the most downloaded


# The tables of criteria.yaml that need a value for every kind of their key.
COMPLETE_TABLES: dict[str, tuple[str, ...]] = {
    "support_levels": get_args(SupportLevel),
    "task_evidence": (*get_args(EvidenceKind), "breadth_bonus"),
    "evidence_status": get_args(EvidenceStatus),
    "performance_features": get_args(PerformanceFeature),
    "ecosystem_features": get_args(EcosystemFeature),
    "ease_of_use_features": get_args(UsabilityFeature),
    "distributed_levels": get_args(DistributedLevel),
}


class Between(Strict):
    """Two anchors of a scale; `low` < `high`."""

    low: float = Field(ge=0, allow_inf_nan=False)
    high: float = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Between:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class LogBetween(Between):
    """A log scale: both anchors at least 1."""

    low: float = Field(ge=1, allow_inf_nan=False)


class RankScale(Strict):
    """Download ranks on a log scale: 1 at `best`, 0 at `worst`; best < worst."""

    best: Rank
    worst: Rank

    @model_validator(mode="after")
    def _ordered(self) -> RankScale:
        if not self.best < self.worst:
            raise ValueError(f"best ({self.best:g}) must be a smaller rank than worst ({self.worst:g})")
        return self


class AdoptionScale(Strict):
    base: Share = Field(description="share of an evidence item's value that does not depend on adoption")
    best_rank: Rank
    worst_rank: Rank

    @model_validator(mode="after")
    def _ordered(self) -> AdoptionScale:
        if not self.best_rank < self.worst_rank:
            raise ValueError(f"best_rank ({self.best_rank:g}) must be smaller than worst_rank ({self.worst_rank:g})")
        return self


class CommunityScales(Strict):
    github_stars: LogBetween
    pypi_download_rank: RankScale
    releases_last_year: Between
    cadence_share: float = Field(
        1.0, ge=0, le=1, allow_inf_nan=False, description="release cadence's weight beside adoption's 1 (a minor share)"
    )


class Criteria(Strict):
    """knowledge/criteria.yaml: how facts become 0..1 scores.

    Every modelling number is bounded so that each criterion stays within 0..1 and a total within
    0..100: shares 0..1, weights 0..5, ranks >= 1 with best < worst; nothing is NaN or infinite.
    """

    default_weights: dict[str, Weight]
    support_levels: dict[SupportLevel, Share]
    partial_path: Share
    task_evidence: dict[EvidenceKind | Literal["breadth_bonus"], Share]
    evidence_status: dict[EvidenceStatus, Share]
    adoption: AdoptionScale
    performance_features: dict[PerformanceFeature, Share]
    ecosystem_features: dict[EcosystemFeature, Share]
    ease_of_use_features: dict[UsabilityFeature, Share]
    distributed_levels: dict[DistributedLevel, Share]
    community: CommunityScales
    successor_familiarity_transfer: Share
    mlperf_half_life_years: float = Field(
        gt=0, allow_inf_nan=False, description="an MLPerf result counts half as much after this many years"
    )
    feature_tasks: dict[PerformanceFeature | EcosystemFeature | UsabilityFeature, list[str]] = Field(
        default_factory=dict,
        description="a feature kind that matters only to some workloads -> those task ids (absent: every task)",
    )
    feature_not_for: dict[PerformanceFeature | EcosystemFeature | UsabilityFeature, list[str]] = Field(
        default_factory=dict, description="a feature kind -> task ids it does not matter to (deep-learning tooling)"
    )
    secondary_hardware_share: Share = Field(0.25, description="the secondary hardware's share of `hardware`")
    unknown_adoption: Share = Field(0.5, description="adoption of an own library outside the download snapshot")

    @field_validator(*COMPLETE_TABLES)
    @classmethod
    def _every_kind(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        """Scoring looks every kind up: a table that leaves one out is an error, not a crash later."""
        name = str(info.field_name)
        missing = [kind for kind in COMPLETE_TABLES[name] if kind not in value]
        if missing:
            raise ValueError(f"{name} needs a value for {', '.join(missing)}")
        return value


class Adoption(Sourced):
    """knowledge/adoption.yaml: how widely the task libraries named as evidence are installed."""

    pypi_download_rank: dict[str, Annotated[int, Field(ge=1)]]
    not_ranked: list[str] = Field(default_factory=list, description="on PyPI, outside the ranked top")


class Vocabulary(Strict):
    """knowledge/vocabulary.yaml: the ids every other file and the answers use."""

    frameworks: list[str]
    tasks: dict[str, str]
    hardware: dict[str, str]
    deployment: dict[str, str]
    criteria: dict[str, str]


class BuildVariant(Strict):
    """A distribution that installs a framework: one of its builds (CPU, CUDA, ROCm ...) or a plugin."""

    package: str = Field(min_length=1, description="its PyPI distribution name")
    exclusive: bool = Field(
        False, description="installs the same module as the framework's other exclusive builds: two at once clash"
    )
    cpu_build: bool = Field(False, description="a CPU build that a GPU build replaces (uninstall it first)")


class Builds(Sourced):
    """knowledge/builds.yaml: the distributions `dlpick doctor` looks for beyond each framework's `packages`."""

    frameworks: dict[str, list[BuildVariant]] = Field(description="framework id -> its builds and plugins")


class RegistryRelease(Strict):
    version: str
    date: dt.date
    source: str = Field(min_length=8, description="the registry page of that release")
    platforms: list[str] | None = Field(
        None,
        description="the platform tags of that release's wheels, normalised (manylinux_x86_64, manylinux_aarch64, "
        "macosx_arm64, win_amd64, any ...); absent: not recorded (npm, or an older snapshot)",
    )
    as_of: dt.date | None = Field(
        None, description="when this entry was read, where not the snapshot's as_of (kept from an earlier snapshot)"
    )


class RegistrySnapshot(Strict):
    """knowledge/registry-snapshot.yaml: each library's newest final release (tools/registry_snapshot.py)."""

    as_of: dt.date = Field(description="when the registries were read")
    source: str = Field(min_length=8)
    packages: dict[str, RegistryRelease] = Field(description="'pypi:NAME' or 'npm:NAME' -> its newest final release")

    @field_validator("packages")
    @classmethod
    def _registry_keys(cls, value: dict[str, RegistryRelease]) -> dict[str, RegistryRelease]:
        for key in value:
            if not re.fullmatch(r"(pypi|npm):\S+", key):
                raise ValueError(f"{key!r} is not 'pypi:NAME' or 'npm:NAME'")
        return value


class Acknowledgement(Strict):
    finding: str = Field(min_length=3, description="the id `dlpick kb audit` prints for the finding")
    reason: str = Field(min_length=10, description="why it is true and may stand")
    until: dt.date = Field(description="the acknowledgement lapses after this date")


class AuditAcks(Strict):
    """knowledge/audit-ack.yaml: audit findings that are true, explained, and allowed to stand for a while."""

    acknowledged: list[Acknowledgement] = Field(default_factory=list)
