"""`dlpick kb audit`: what in the knowledge base needs a maintainer's eye.

Four kinds of finding, each fixed in the knowledge files or acknowledged in `audit-ack.yaml`:

- `stale`: a fact whose `as_of` is older than the threshold (default 365 days);
- `dormant` / `not-dormant`: a library whose newest release (a `last_release` fact, or the dated
  registry snapshot `registry-snapshot.yaml`) breaks, or no longer meets, the two-year dormant
  rule of criteria.yaml, against its `status`;
- `level-note`: a `primary`/`official`/`vendor` hardware or deployment path whose own note speaks
  of a legacy path ("deprecated", "last release", "no longer", "until", "stopped" ...);
- `no-source-page`: task evidence or a feature whose `source` is not a web page;
- `level-words`: a `primary`/`official`/`vendor` level whose note calls it a prototype, preview, beta
  or nightly (knowledge/README.md's `experimental`), or whose install pins an old release;
- `library-mismatch`: one library (the same package) with different kinds or statuses in two places;
- `old-snapshot`: a registry snapshot older than SNAPSHOT_MAX_DAYS;
- `old-pin`: an install command that pins the framework's own package to another minor release than
  the recorded `release`, or a plugin it installs from PyPI to another than the snapshot's newest;
- `note-version`: a note that names a library of the snapshot with a version newer than its newest, or
  an older one it calls the newest / latest / current;
- `platform-claim`: a note that says there is no wheel for a platform (aarch64, macOS arm64, Windows ...)
  that the snapshot's newest release has, or names the newest release with a wheel it lacks.

Every check reads every item it applies to, with or without a `package`: task evidence, deployment
paths (named by tool), hardware entries and the plugins their install commands add, and features.

A finding's `id` ("KIND FRAMEWORK WHERE") is what an acknowledgement names.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpick.errors import BadInput
from dlpick.kb.audit_notes import note_versions, platform_claims
from dlpick.kb.findings import (  # noqa: F401 - tools/ and tests read registry_key through this module
    DORMANT_AFTER_DAYS,
    Finding,
    _date,
    _facts,
    _label,
    normalise,
    registry_key,
    snapshot_entry,
)
from dlpick.kb.model import Adoption, DeploymentPath, Feature, Framework, HardwareSupport, TaskEvidence

DEFAULT_OLDER_THAN = 365
SNAPSHOT_FILE = "registry-snapshot.yaml"
ACK_FILE = "audit-ack.yaml"
STRONG_LEVELS = ("primary", "official", "vendor")
# Words of a legacy path; "last ... release/build" also catches "last GPU build", "last X release".
LEGACY_WORDS = re.compile(
    r"\b(deprecated|last (?:[\w.-]+ ){0,2}(?:release|build)|no longer|until|stopped|end[- ]of[- ]life|EOL"
    r"|discontinued|archived|legacy)\b",
    re.IGNORECASE,
)
SNAPSHOT_MAX_DAYS = 60
# Words that make a level `experimental` by knowledge/README.md's definition (released but marked
# experimental / preview).
PREVIEW_WORDS = re.compile(r"\b(prototype|preview|beta|nightly|experimental)\b", re.IGNORECASE)
KINDS = {
    "stale": "facts checked longer ago than the threshold",
    "dormant": "libraries with no release for two years or more that are not marked dormant",
    "not-dormant": "libraries marked dormant that released within two years",
    "level-note": "primary/official/vendor support whose note describes a legacy path",
    "no-source-page": "evidence whose source is not a web page",
    "level-words": "primary/official/vendor support its own note calls a prototype, preview, beta or nightly",
    "library-mismatch": "one library with different kinds or statuses in different places",
    "old-snapshot": f"a registry snapshot older than {SNAPSHOT_MAX_DAYS} days",
    "old-pin": "install commands that pin the framework to another release than the recorded one, or a PyPI "
    "plugin to another than the snapshot's newest",
    "note-version": "notes that name a library of the snapshot with a version newer than its newest (unless called "
    "a beta/rc/nightly, or PyPI's newest is two years old: published elsewhere), or an older one they call newest, "
    "latest or current",
    "platform-claim": "notes that say a release has no wheel for a platform the snapshot records for it (or names "
    "the newest release with a wheel the snapshot lacks); pure-Python `any` wheels are not counted",
}
PIN = re.compile(r"(?<![\w.-])([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([0-9]+)\.([0-9]+)")
PIP_INSTALL = re.compile(r"\bpip3?\s+install\b(.*)")
INDEX_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links")
REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?(?:==([0-9][^\s;,]*))?")


def install_packages(command: str | None) -> list[tuple[str, str | None, bool]]:
    """(normalised name, pinned version or None, installed from PyPI) for each package a command pip-installs.

    Requirements with other specifiers than `==` ('numpy<1.24') are constraints, not what the command is for,
    and are left out; a part of the command that names another index (-i, --index-url ...) is not PyPI."""
    found = []
    for part in (command or "").split("&&"):
        match = PIP_INSTALL.search(part.split("#", 1)[0])
        if not match:
            continue
        words = [w.strip("'\"") for w in match[1].split()]
        on_pypi = not any(w.split("=", 1)[0] in INDEX_OPTIONS for w in words)
        skip = False
        for word in words:
            if skip or word.startswith("-"):
                skip = word in INDEX_OPTIONS
                continue
            requirement = REQUIREMENT.fullmatch(word)
            if requirement:
                found.append((normalise(requirement[1]), requirement[2], on_pypi))
    return found


@dataclass
class Audit:
    findings: list[Finding]
    acknowledged: dict[str, dict[str, Any]]  # finding id -> its acknowledgement
    unused: list[dict[str, Any]]  # acknowledgements that name no finding of this run
    expired: list[dict[str, Any]]  # acknowledgements past their `until`
    today: dt.date
    older_than: int
    snapshot_as_of: str | None
    files: list[str] = field(default_factory=list)

    @property
    def open(self) -> list[Finding]:
        return [f for f in self.findings if f.id not in self.acknowledged]

    def lines(self) -> list[str]:
        """The report as text: open findings by kind, then a count of the acknowledged ones."""
        out = []
        for kind, title in KINDS.items():
            mine = [f for f in self.open if f.kind == kind]
            if mine:
                out.append(f"{title} ({len(mine)}):")
                out += [f"  {f.id}\n      {f.message}" + (f" [{f.source}]" if f.source else "") for f in mine]
        for ack in self.expired:
            out.append(f"expired acknowledgement (until {ack['until']}): {ack['finding']}")
        for ack in self.unused:
            out.append(f"acknowledgement that names no finding: {ack['finding']}")
        done = len(self.findings) - len(self.open)
        snapshot = f"registry snapshot {self.snapshot_as_of}" if self.snapshot_as_of else "no registry snapshot"
        verdict = "ok" if not self.open else f"{len(self.open)} unacknowledged finding(s)"
        out.append(
            f"{verdict}; {done} acknowledged; facts older than {self.older_than} days before {self.today}; {snapshot}"
        )
        return out

    def to_json(self) -> dict[str, Any]:
        def one(finding: Finding) -> dict[str, Any]:
            ack = self.acknowledged.get(finding.id)
            return {
                "id": finding.id,
                "kind": finding.kind,
                "framework": finding.framework,
                "where": finding.where,
                "message": finding.message,
                "source": finding.source,
                "acknowledged": ack is not None,
                **({"reason": ack["reason"], "until": ack["until"]} if ack else {}),
            }

        return {
            "passed": not self.open,
            "unacknowledged": len(self.open),
            "acknowledged": len(self.findings) - len(self.open),
            "findings": [one(f) for f in self.findings],
            "unused_acknowledgements": self.unused,
            "expired_acknowledgements": self.expired,
            "today": self.today.isoformat(),
            "older_than_days": self.older_than,
            "dormant_after_days": DORMANT_AFTER_DAYS,
            "registry_snapshot": self.snapshot_as_of,
            "files": self.files,
        }


# --- reading the snapshot and the acknowledgements ----------------------------------------------


def _read_model(path: Path, model: Any) -> dict[str, Any]:
    from pydantic import ValidationError

    from dlpick import yamlfile
    from dlpick.errors import KnowledgeError

    data = yamlfile.load(path)
    try:
        return dict(model.model_validate(data if data is not None else {}).model_dump(mode="json"))
    except ValidationError as exc:
        raise KnowledgeError(yamlfile.validation_problems(path, exc)) from None


def load_snapshot(dirs: list[Path]) -> tuple[dict[str, Any], list[str]]:
    """The registry snapshot, later folders' entries over earlier ones; as_of is the newest."""
    from dlpick.kb import schema

    merged: dict[str, Any] = {"as_of": None, "packages": {}}
    files = []
    for directory in dirs:
        path = directory / SNAPSHOT_FILE
        if path.is_file():
            data = _read_model(path, schema.RegistrySnapshot)
            merged.pop("_pypi", None)
            merged["packages"].update(
                {key: {**e, "as_of": e.get("as_of") or data["as_of"]} for key, e in data["packages"].items()}
            )
            merged["as_of"] = max(filter(None, [merged["as_of"], data["as_of"]]))
            files.append(str(path))
    return merged, files


def load_acks(dirs: list[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    from dlpick.kb import schema

    acks, files = [], []
    for directory in dirs:
        path = directory / ACK_FILE
        if path.is_file():
            acks += _read_model(path, schema.AuditAcks)["acknowledged"]
            files.append(str(path))
    return acks, files


# --- the checks ------------------------------------------------------------------------------------


def stale(
    frameworks: Mapping[str, Framework], shared: dict[str, Any], today: dt.date, older_than: int
) -> list[Finding]:
    found = []
    limit = today - dt.timedelta(days=older_than)
    sources = [*((fid, fw.to_json()) for fid, fw in frameworks.items()), *shared.items()]
    for owner, data in sources:
        for where, fact in _facts(data):
            if _date(fact["as_of"]) < limit:
                found.append(
                    Finding(
                        "stale",
                        owner,
                        where,
                        f"checked {fact['as_of']}, more than {older_than} days before {today}",
                        fact.get("source"),
                    )
                )
    return found


def _sourced_items(fw: Framework) -> list[tuple[str, TaskEvidence | DeploymentPath | Feature]]:
    """(section, item) for every task evidence, deployment path and feature of a framework."""
    items: list[tuple[str, TaskEvidence | DeploymentPath | Feature]] = [
        (f"tasks.{task}", item) for task, evidence in fw.tasks.items() for item in evidence
    ]
    items += [(f"deployment.{target}", item) for target, paths in fw.deployment.items() for item in paths]
    sections = (("performance", fw.performance), ("ecosystem", fw.ecosystem), ("ease_of_use", fw.ease_of_use))
    return items + [(section, item) for section, features in sections for item in features]


def _item_label(item: TaskEvidence | DeploymentPath | Feature) -> str:
    """What names an item in a finding's `where`: its package, else its tool or name (as `_label` for data)."""
    if isinstance(item, TaskEvidence):
        return item.package or item.name or item.kind
    if isinstance(item, DeploymentPath):
        return item.tool
    return item.name or item.kind


def _newest_release(
    item: TaskEvidence | DeploymentPath | Feature, snapshot: dict[str, Any]
) -> tuple[dt.date, dt.date, str, str] | None:
    """(release date, date it was read, version, source) of the item's newest known release."""
    recorded = item.last_release if isinstance(item, (TaskEvidence, DeploymentPath)) else None
    package = item.package
    key = f"pypi:{package}" if package else None
    if key is None and recorded:
        key = registry_key(recorded.source)
    seen = []
    if recorded:
        seen.append((_date(recorded.date), _date(recorded.as_of), recorded.version, recorded.source))
    entry = snapshot_entry(snapshot, key) if key else None
    if entry and not (recorded and entry["version"] == recorded.version):
        seen.append((_date(entry["date"]), _date(entry["as_of"]), entry["version"], entry["source"]))
    if not seen:
        return None
    date, _, version, source = max(seen)
    return date, max(read for _, read, _, _ in seen), version, source


def dormancy(frameworks: Mapping[str, Framework], snapshot: dict[str, Any]) -> list[Finding]:
    """Evidence, deployment paths and library features (which have no status: they count as active) whose
    newest release breaks, or no longer meets, the two-year dormant rule against their status."""
    found = []
    for fid, fw in frameworks.items():
        items = _sourced_items(fw)
        for section, item in items:
            release = _newest_release(item, snapshot)
            if release is None:
                continue
            date, read, version, source = release
            age = (read - date).days
            status = getattr(item, "status", None) or "active"
            where = f"{section}[{_item_label(item)}]"
            if age >= DORMANT_AFTER_DAYS and status != "dormant" and not isinstance(item, Feature):
                message = f"newest release {version} ({date}) is {age} days old on {read}, but status is {status}"
                found.append(Finding("dormant", fid, where, message, source))
            elif age >= DORMANT_AFTER_DAYS and isinstance(item, Feature):
                message = f"newest release {version} ({date}) is {age} days old on {read}, but the feature still counts"
                found.append(Finding("dormant", fid, where, message, source))
            elif age < DORMANT_AFTER_DAYS and status == "dormant":
                message = f"marked dormant, but {version} was released {date}, {age} days before {read}"
                found.append(Finding("not-dormant", fid, where, message, source))
    return found


def level_notes(frameworks: Mapping[str, Framework]) -> list[Finding]:
    found = []
    for fid, fw in frameworks.items():
        entries: list[tuple[str, HardwareSupport | DeploymentPath]] = [
            (f"hardware.{hw}", entry) for hw, entry in fw.hardware.items()
        ]
        entries += [
            (f"deployment.{target}[{_item_label(path)}]", path)
            for target, paths in fw.deployment.items()
            for path in paths
        ]
        for where, entry in entries:
            match = LEGACY_WORDS.search(entry.note or "")
            if entry.level in STRONG_LEVELS and match:
                message = f"level {entry.level}, but its note says {match[0]!r}: a legacy path?"
                found.append(Finding("level-note", fid, where, message, entry.source))
    return found


def level_words(frameworks: Mapping[str, Framework]) -> list[Finding]:
    """A strong level whose own note says prototype / preview / beta / nightly: `experimental`?"""
    found = []
    for fid, fw in frameworks.items():
        entries: list[tuple[str, HardwareSupport | DeploymentPath]] = [
            (f"hardware.{hw}", entry) for hw, entry in fw.hardware.items()
        ]
        entries += [
            (f"deployment.{target}[{_item_label(path)}]", path)
            for target, paths in fw.deployment.items()
            for path in paths
        ]
        for where, entry in entries:
            match = PREVIEW_WORDS.search(entry.note or "")
            if entry.level in STRONG_LEVELS and match:
                message = f"level {entry.level}, but its note says {match[0]!r}: experimental by README's definition?"
                found.append(Finding("level-words", fid, where, message, entry.source))
    return found


def _library_key(name: str) -> str:
    """How a library without a package is named alike in two places: its name before any parenthesis."""
    return re.sub(r"\s+", " ", name.split(" (")[0]).strip().lower()


def library_mismatches(frameworks: Mapping[str, Framework]) -> list[Finding]:
    """One library cited with different kinds or statuses (KerasHub official here, third-party there).

    A library is its package; evidence without one is matched by its name (before any parenthesis) to evidence
    of the same name, with or without a package; deployment paths, by tool name, have a status but no kind."""
    by_name = {
        _library_key(item.name): normalise(item.package)
        for fw in frameworks.values()
        for evidence in fw.tasks.values()
        for item in evidence
        if item.package
    }

    def key(package: str | None, name: str) -> str:
        return normalise(package) if package else by_name.get(_library_key(name), _library_key(name))

    seen: dict[str, list[tuple[str, str, str | None, str]]] = {}
    for fid, fw in frameworks.items():
        for task, evidence in fw.tasks.items():
            for item in evidence:
                seen.setdefault(key(item.package, item.name), []).append((fid, f"tasks.{task}", item.kind, item.status))
        for target, paths in fw.deployment.items():
            for path in paths:
                seen.setdefault(key(path.package, path.tool), []).append(
                    (fid, f"deployment.{target}", None, path.status or "active")
                )
    found = []
    for library, uses in sorted(seen.items()):
        if not any(where.startswith("tasks.") for _, where, _, _ in uses):
            continue  # deployment paths alone: several tools share a name ("ONNX export ...") without being one library
        kinds = sorted({kind for _, _, kind, _ in uses if kind})
        statuses = sorted({status for _, _, _, status in uses})
        if len(kinds) > 1 or len(statuses) > 1:
            fid = uses[0][0]
            message = f"{library}: kinds {', '.join(kinds)}; statuses {', '.join(statuses)} across " + ", ".join(
                sorted({f"{f} {w}" for f, w, _, _ in uses})
            )
            found.append(Finding("library-mismatch", fid, f"package[{library}]", message, None))
    return found


def old_pins(frameworks: Mapping[str, Framework], snapshot: dict[str, Any] | None = None) -> list[Finding]:
    """`torch==2.9.1` in an install command while the recorded release is 2.15.0: an old pin?"""
    found = []
    for fid, fw in frameworks.items():
        own = {p.lower() for p in fw.packages} | {f"{p.lower()}-gpu" for p in fw.packages}
        release = fw.release.version.split(".")[:2]
        for hw, support in fw.hardware.items():
            for name, major, minor in PIN.findall(support.install or ""):
                if name.lower() in own and [major, minor] != release:
                    message = f"install pins {name}=={major}.{minor}.*, the recorded release is {fw.release.version}"
                    found.append(Finding("old-pin", fid, f"hardware.{hw}", message, support.source))
            # A plugin (torch-npu, torch_xla, tensorflow-metal ...) pinned from PyPI: against the snapshot's newest.
            for name, pinned, on_pypi in install_packages(support.install):
                entry = snapshot_entry(snapshot, f"pypi:{name}") if snapshot else None
                if name in {normalise(p) for p in own} or not (pinned and on_pypi and entry):
                    continue
                if pinned.split(".")[:2] != entry["version"].split(".")[:2]:
                    newest = f"{entry['version']} ({entry['date']})"
                    message = f"install pins {name}=={pinned}, the snapshot's newest is {newest}"
                    found.append(Finding("old-pin", fid, f"hardware.{hw}[{name}]", message, entry["source"]))
    return found


def plugin_dormancy(frameworks: Mapping[str, Framework], snapshot: dict[str, Any]) -> list[Finding]:
    """A primary/official/vendor hardware entry whose install adds a PyPI plugin with no release for two years."""
    found = []
    for fid, fw in frameworks.items():
        own = {normalise(p) for p in fw.packages}
        for hw, support in fw.hardware.items():
            if support.level not in STRONG_LEVELS:
                continue
            for name, _, on_pypi in install_packages(support.install):
                entry = snapshot_entry(snapshot, f"pypi:{name}")
                if name in own or not on_pypi or not entry:
                    continue
                read = _date(entry.get("as_of") or snapshot["as_of"])
                age = (read - _date(entry["date"])).days
                if age >= DORMANT_AFTER_DAYS:
                    message = (
                        f"level {support.level}, but the plugin {name}'s newest release {entry['version']} "
                        f"({entry['date']}) is {age} days old on {read}"
                    )
                    found.append(Finding("dormant", fid, f"hardware.{hw}[{name}]", message, entry["source"]))
    return found


def old_snapshot(snapshot_as_of: str | None, today: dt.date) -> list[Finding]:
    if not snapshot_as_of:
        return []
    age = (today - _date(snapshot_as_of)).days
    if age <= SNAPSHOT_MAX_DAYS:
        return []
    message = f"registry snapshot of {snapshot_as_of} is {age} days old (rerun tools/registry_snapshot.py)"
    return [Finding("old-snapshot", "-", SNAPSHOT_FILE, message, None)]


def source_pages(frameworks: Mapping[str, Framework]) -> list[Finding]:
    """Evidence, deployment paths, hardware entries and features whose source is not a page that can be opened."""
    found = []
    for fid, fw in frameworks.items():
        items = _sourced_items(fw)
        located = [(f"{section}[{_item_label(item)}]", item.source) for section, item in items]
        located += [(f"hardware.{hw}", support.source) for hw, support in fw.hardware.items()]
        for where, source in located:
            if not source.startswith(("https://", "http://")):
                message = f"source {source!r} is not a page that can be opened"
                found.append(Finding("no-source-page", fid, where, message, source))
    return found


# --- notes against the registry snapshot ----------------------------------------------------------


def run(
    frameworks: Mapping[str, Framework],
    dirs: list[Path],
    adoption: Adoption | None = None,
    older_than: int = DEFAULT_OLDER_THAN,
    today: dt.date | None = None,
) -> Audit:
    """Every finding over the merged knowledge, matched against the acknowledgements in `dirs`."""

    if older_than < 1:
        raise BadInput(f"--older-than must be at least 1 day, got {older_than}")
    today = today or dt.date.today()
    snapshot, snapshot_files = load_snapshot(dirs)
    acks, ack_files = load_acks(dirs)
    shared: dict[str, Any] = {}
    if adoption is not None:
        shared["adoption.yaml"] = {"source": adoption.source, "as_of": adoption.as_of}
    if snapshot["as_of"]:
        shared[SNAPSHOT_FILE] = {"as_of": snapshot["as_of"], "source": "registry snapshot"}
    findings = [
        *stale(frameworks, shared, today, older_than),
        *dormancy(frameworks, snapshot),
        *level_notes(frameworks),
        *source_pages(frameworks),
        *level_words(frameworks),
        *library_mismatches(frameworks),
        *old_snapshot(snapshot["as_of"], today),
        *old_pins(frameworks, snapshot),
        *plugin_dormancy(frameworks, snapshot),
        *note_versions(frameworks, snapshot),
        *platform_claims(frameworks, snapshot),
    ]
    ids = {f.id for f in findings}
    current = {a["finding"]: a for a in acks if _date(a["until"]) >= today}
    expired = [a for a in acks if _date(a["until"]) < today]
    return Audit(
        findings=findings,
        acknowledged={fid: ack for fid, ack in current.items() if fid in ids},
        unused=[a for a in current.values() if a["finding"] not in ids],
        expired=expired,
        today=today,
        older_than=older_than,
        snapshot_as_of=snapshot["as_of"],
        files=snapshot_files + ack_files,
    )
