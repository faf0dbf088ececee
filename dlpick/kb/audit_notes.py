"""`dlpick kb audit`'s checks of what notes say against the registry snapshot: `note-version`
(versions a note names) and `platform-claim` (the wheels a note says a release has or lacks).
dlpick/kb/audit.py runs them with every other check."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from dlpick.kb.findings import (
    DORMANT_AFTER_DAYS,
    Finding,
    _date,
    _facts,
    normalise,
    registry_key,
    snapshot_entry,
)
from dlpick.kb.model import Framework

VERSION = r"\d+(?:\.\d+)+(?:\.post\d+)?"
NOT_MORE_VERSION = r"(?![\w-]|\.\w)"  # 2.22.0rc0, 2.16.0.dev1, torch-npu: not the version or name read
NEWEST = r"(?:newest|latest|current)"
PRE_RELEASE_AFTER = re.compile(r"\s*(?:alpha|beta|betas|rc|release candidate|pre-release|preview|nightly|dev)\b", re.I)
NEWEST_BEFORE = re.compile(rf"\b{NEWEST}(?:\s+(?:stable|final|release|version))?\s*$", re.IGNORECASE)
# "NAME 1.2.0 is the newest", "NAME 1.2.0 (2026-11-21) is the newest", "NAME 1.2.0, the latest"
NEWEST_AFTER = re.compile(rf"\s*(?:\([^()]{{0,40}}\))?\s*[,(]?\s*(?:is\s+|was\s+)?(?:the\s+)?{NEWEST}\b", re.IGNORECASE)


def _numeric(version: str) -> tuple[int, ...] | None:
    """A final release's version as numbers (2.15 == 2.15.0; .postN ignored); None for anything else."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:\.post\d+)?", version)
    if not match:
        return None
    parts = [int(x) for x in match[1].split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _notes(fw: Framework) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, note, fact) for every fact of a framework with a note, whatever item it belongs to."""
    for where, fact in _facts(fw.to_json()):
        if fact.get("note"):
            yield where, str(fact["note"]), fact


def _library_names(frameworks: Mapping[str, Framework], snapshot: dict[str, Any]) -> dict[str, str]:
    """How notes name a PyPI library of the snapshot (lower case) -> its normalised name: its own name, and a
    framework's display name for the framework's first package ("PyTorch" -> torch)."""
    snapshot_entry(snapshot, "pypi:-")  # builds the index
    names = {name: name for name in snapshot["_pypi"]}
    for fw in frameworks.values():
        if fw.packages and normalise(fw.packages[0]) in snapshot["_pypi"]:
            names.setdefault(fw.name.lower(), normalise(fw.packages[0]))
    return names


def _fact_package(fw: Framework, where: str, fact: dict[str, Any]) -> str | None:
    """The snapshot key ('pypi:NAME' / 'npm:NAME') of the library a fact's note is about: the item's package, or the
    registry of its `last_release`; the framework's first package where the fact is not a library item (hardware,
    release, python ...); None for a library item without either, or a nested fact (a licence, a last release)."""
    if where.endswith((".last_release", ".licence", ".round")):
        return None
    if fact.get("package"):
        return f"pypi:{fact['package']}"
    if isinstance(fact.get("last_release"), dict):
        return registry_key(str(fact["last_release"]["source"]))
    if {"name", "tool"} & fact.keys() or not fw.packages:
        return None
    return f"pypi:{fw.packages[0]}"


def note_versions(frameworks: Mapping[str, Framework], snapshot: dict[str, Any]) -> list[Finding]:
    """'vllm 0.34.0' where the snapshot's newest vllm is 0.33.0; 'the newest torchaudio 2.10.0' where it is 2.11.1.

    A version is read after a library's name ('torch 2.9.0', 'torch==2.9.0', "torch_xla's newest release is
    2.9.0"), or after 'newest/latest (release)' alone in a note about one library (its item's package, or the
    framework's own for a hardware or release note)."""
    names = _library_names(frameworks, snapshot)
    if not names:
        return []
    alternatives = "|".join(re.escape(n).replace(r"\-", "[-_.]") for n in sorted(names, key=len, reverse=True))
    named = rf"(?<![\w./-])({alternatives})"
    qualifier = r"(?:\s+(?:stable|final|PyPI))?(?:\s+(?:release|version|build))?"
    mention = re.compile(rf"{named}(?:\s+v?|==)({VERSION}){NOT_MORE_VERSION}", re.IGNORECASE)
    owned = re.compile(
        rf"{named}'s\s+{NEWEST}{qualifier}\s+(?:is\s+|was\s+)?v?({VERSION}){NOT_MORE_VERSION}", re.IGNORECASE
    )
    bare = re.compile(rf"(?<!'s )\b{NEWEST}{qualifier}\s+(?:is\s+|was\s+)?v?({VERSION}){NOT_MORE_VERSION}", re.I)
    found = []
    for fid, fw in frameworks.items():
        for where, note, fact in _notes(fw):
            claims: list[tuple[re.Match[str], str, str, dict[str, Any], bool]] = []  # match, name, version, entry
            for m in owned.finditer(note):
                name = names[normalise(m[1])]
                claims.append((m, name, m[2], snapshot["_pypi"][name], True))
            for m in mention.finditer(note):
                name = names[normalise(m[1])]
                before = note[max(0, m.start() - 30) : m.start()]
                says_newest = bool(NEWEST_BEFORE.search(before) or NEWEST_AFTER.match(note, m.end()))
                claims.append((m, name, m[2], snapshot["_pypi"][name], says_newest))
            key = _fact_package(fw, where, fact)
            entry = snapshot_entry(snapshot, key) if key else None
            if key and entry:
                spans = [m.span() for m, *_ in claims]
                for m in bare.finditer(note):
                    if not any(a < m.end() and m.start() < b for a, b in spans):  # not a named library's
                        claims.append((m, normalise(key.partition(":")[2]), m[1], entry, True))
            seen = set()
            for match, name, version, entry, says_newest in claims:
                said, newest = _numeric(version), _numeric(entry["version"])
                if said is None or newest is None or (name, version) in seen:
                    continue
                seen.add((name, version))
                read = entry.get("as_of") or snapshot["as_of"]
                unreleased = PRE_RELEASE_AFTER.match(note, match.end())
                # PyPI's newest two years old or more: the library stopped, or publishes elsewhere (paddlepaddle-gpu
                # 3.x is on Paddle's own index), so a newer version in a note is not a contradiction.
                stopped = (_date(read) - _date(entry["date"])).days >= DORMANT_AFTER_DAYS
                if said > newest and not unreleased and not stopped:
                    problem = f"newer than the snapshot's newest {entry['version']} ({read})"
                elif said < newest and says_newest:
                    problem = f"called the newest, but the snapshot's newest is {entry['version']} ({entry['date']})"
                else:
                    continue
                message = f"the note names {name} {version}: {problem}"
                found.append(Finding("note-version", fid, f"{where}[{name} {version}]", message, entry["source"]))
    return found


# Platforms a note may claim a wheel for (or none): a phrase, and the normalised wheel tags that have it.
PLATFORM_PHRASES = (
    (
        "macOS arm64",
        r"(?:mac\s?os|macosx)[\s_-]*(?:\d+[_.]\d+[\s_-]*)?(?:arm64|apple\s+silicon)|apple[\s-]silicon",
        lambda tag: tag in ("macosx_arm64", "macosx_universal2"),
    ),
    (
        "macOS x86_64",
        r"(?:mac\s?os|macosx)[\s_-]*(?:\d+[_.]\d+[\s_-]*)?x86[_-]64",
        lambda tag: tag in ("macosx_x86_64", "macosx_universal2", "macosx_intel"),
    ),
    (
        "Linux aarch64",
        r"(?:(?:many|musl)?linux(?:\d+|_\d+_\d+)?[\s_-]*)?aarch64|linux[\s_-]+arm64",
        lambda tag: "linux" in tag and tag.endswith("aarch64"),
    ),
    (
        "Linux x86_64",
        r"(?:many|musl)?linux(?:\d+|_\d+_\d+)?[\s_-]+x86[_-]64",
        lambda tag: "linux" in tag and tag.endswith("x86_64"),
    ),
    ("Windows", r"windows|win_amd64|win_arm64|win32", lambda tag: tag.startswith("win")),
)
NO_WHEEL = re.compile(r"\bno\s+((?:[\w./-]+\s+){0,4}?)wheels?\b", re.IGNORECASE)
SENTENCE = re.compile(r"(?<=[.;])\s+")


def _platforms_named(text: str) -> list[tuple[str, Any]]:
    """(platform, has-it predicate) for each platform a piece of text names (macOS arm64 is not also aarch64)."""
    named = []
    for label, phrase, has in PLATFORM_PHRASES:
        if re.search(phrase, text, re.IGNORECASE):
            named.append((label, has))
            text = re.sub(phrase, " ", text, flags=re.IGNORECASE)
    return named


def platform_claims(frameworks: Mapping[str, Framework], snapshot: dict[str, Any]) -> list[Finding]:
    """'no aarch64 wheel' where the snapshot's newest release has one; 'X.Y.Z ships Windows wheels' where it has none.

    A note is about the package of its item, or the framework's first package where the item is not a library
    (hardware, release, python ...); a note of a library item without a package is not checked. A claim that there
    is no wheel is read as about the newest release unless it names another version; a claim that there is one
    only where it names the newest version. Pure-Python `any` wheels count for neither."""
    found = []
    for fid, fw in frameworks.items():
        for where, note, fact in _notes(fw):
            key = _fact_package(fw, where, fact)
            entry = snapshot_entry(snapshot, key) if key else None
            if not key or not entry or entry.get("platforms") is None:
                continue
            package = key.partition(":")[2]
            tags = [t for t in entry["platforms"] if t != "any"]
            newest = re.compile(rf"(?<![\w.]){re.escape(entry['version'])}(?![\w]|\.\d)")
            for sentence in SENTENCE.split(note):
                versions = re.findall(rf"(?<![\w.]){VERSION}", sentence)
                about_newest = bool(newest.search(sentence))
                denied = set()
                for match in NO_WHEEL.finditer(sentence):
                    if versions and not about_newest:
                        break
                    for label, has in _platforms_named(match[1]):
                        denied.add(label)
                        if any(has(t) for t in tags):
                            message = (
                                f"the note says no {label} wheel, but {package} {entry['version']} has "
                                f"{', '.join(t for t in tags if has(t))}"
                            )
                            found.append(Finding("platform-claim", fid, f"{where}[{label}]", message, entry["source"]))
                if about_newest and re.search(r"wheel", sentence, re.IGNORECASE):
                    rest = NO_WHEEL.sub(" ", sentence)
                    for label, has in _platforms_named(rest):
                        if label not in denied and not any(has(t) for t in tags):
                            message = (
                                f"the note says {package} {entry['version']} has a {label} wheel; the snapshot "
                                f"records {', '.join(entry['platforms']) or 'no wheels'}"
                            )
                            found.append(Finding("platform-claim", fid, f"{where}[{label}]", message, entry["source"]))
    return found
