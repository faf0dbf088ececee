#!/usr/bin/env python3
"""Mutation check: do the tests catch what matters?

Plants a fixed list of small deliberate bugs ("mutants", listed at the end of this file) in the
`dlpick/` package, one at a time, runs the quick test suite against each and reports which ones
the tests kill and which survive. Not part of CI (it takes long); run it before closing a change
that touches verify, render/--force, envs, signals or scoring.

Everything runs in a temporary COPY of the repository (its tracked files plus untracked files git
does not ignore), never in the working tree: other people may be editing it, and a mutant must
never be left behind by a crash or a Ctrl-C.

For each mutant:
  1. every mutant's `old` text must occur exactly once in its file (a stale mutant is an error
     that names it: the code moved on, fix the mutant; it is never skipped silently);
  2. the mutant runs against the tests most related to its module ("targeted"); only if it
     survives there does the rest of the quick suite run ("full");
  3. the first failing test kills it; it is re-run on the unmutated code, and a test that fails
     there too is flaky: it is deselected and the mutant tried again;
  4. a run past --timeout counts as killed, reported as a time-out.
Tests that already fail on the unmutated code (a baseline run) are deselected, and listed.

Usage:
  python scripts/mutation-check.py                    # every mutant (long: see --list)
  python scripts/mutation-check.py --list             # the mutants, and whether each still applies
  python scripts/mutation-check.py --check            # only check that every mutant applies
  python scripts/mutation-check.py --only verify-flat-loss,envs-any-dir
  python scripts/mutation-check.py --only verify-flat-loss --tests tests/test_verify.py
  python scripts/mutation-check.py --targeted-only     # a first pass: survivors then run with --only
  python scripts/mutation-check.py --json results.json   # also write the results as JSON ("-": stdout)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTEST = ["-m", "pytest", "-q", "-m", "not integration", "-p", "no:cacheprovider", "-p", "_mutation_plugin"]
DEFAULT_TIMEOUT = 900.0
ATTEMPTS = 5  # runs of one mutant when killing tests turn out flaky
SHOWN = 160  # characters of a test id shown (some parametrised ids are 100 kB long)


# --- mutants ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str  # relative to the repository root
    edits: tuple[tuple[str, str], ...]  # (old, new): each `old` must occur exactly once, applied in order
    description: str
    tests: tuple[str, ...] = ()  # targeted tests (paths); default: TARGETS[file]


def mutant(
    id: str, file: str, old: str, new: str, description: str, tests: Sequence[str] = (), *more: tuple[str, str]
) -> Mutant:
    return Mutant(id, file, ((old, new), *more), description, tuple(tests))


# The tests most related to each module: a mutant runs against these first.
TARGETS: dict[str, tuple[str, ...]] = {
    # The quickest, most specific file first: pytest runs them in this order and stops at a failure (-x).
    "dlpick/verify/checks.py": (
        "tests/test_check_export.py",
        "tests/test_verify.py",
        "tests/faults/test_project_inputs.py",
    ),
    "dlpick/processes.py": ("tests/test_processes.py", "tests/faults/test_signals.py", "tests/test_verify.py"),
    "dlpick/project/render.py": ("tests/test_render.py", "tests/test_force.py"),
    "dlpick/project/overlay.py": ("tests/test_force.py", "tests/test_render.py"),
    "dlpick/workflows/scaffold.py": ("tests/test_render.py", "tests/faults/test_signals.py"),
    "dlpick/verify/envs.py": ("tests/test_envs_guards.py", "tests/test_envs.py"),
    "dlpick/advise/scoring.py": ("tests/test_scoring.py", "tests/test_cli.py"),
    "dlpick/advise/criteria.py": ("tests/test_scoring.py", "tests/test_calibration.py"),
    "dlpick/advise/answers.py": ("tests/faults/test_regressions.py", "tests/test_cli.py"),
    "dlpick/kb/knowledge.py": ("tests/test_knowledge.py", "tests/faults/test_regressions.py"),
    "dlpick/kb/schema.py": ("tests/test_knowledge.py", "tests/faults/test_regressions.py"),
    "dlpick/jsonfile.py": (
        "tests/test_loader_bounds.py",
        "tests/faults/test_loaders.py",
        "tests/faults/test_regressions.py",
    ),
    "dlpick/yamlfile.py": (
        "tests/test_loader_bounds.py",
        "tests/faults/test_loaders.py",
        "tests/faults/test_regressions.py",
    ),
    "dlpick/project/record.py": ("tests/test_loader_bounds.py", "tests/faults/test_records.py", "tests/test_update.py"),
}

VERIFY, PROCESSES, RENDER, OVERLAY = (
    "dlpick/verify/checks.py",
    "dlpick/processes.py",
    "dlpick/project/render.py",
    "dlpick/project/overlay.py",
)
SCAFFOLD, ENVS, SCORING, ANSWERS = (
    "dlpick/workflows/scaffold.py",
    "dlpick/verify/envs.py",
    "dlpick/advise/scoring.py",
    "dlpick/advise/answers.py",
)
CRITERIA = "dlpick/advise/criteria.py"  # the per-criterion scorers, split out of scoring.py
KNOWLEDGE, SCHEMA = "dlpick/kb/knowledge.py", "dlpick/kb/schema.py"
JSONFILE, YAMLFILE, RECORD = "dlpick/jsonfile.py", "dlpick/yamlfile.py", "dlpick/project/record.py"

MUTANTS: list[Mutant] = [
    # --- verify ---------------------------------------------------------------------------------
    mutant(
        "verify-flat-loss",
        VERIFY,
        "    if not last < first:\n",
        "    if last > first:\n",
        "a flat (non-decreasing) loss passes the loss check",
    ),
    mutant(
        "verify-loss-nan-inside",
        VERIFY,
        "    bad = [value for value in history if not _finite(value)]\n",
        "    bad = [value for value in history[-1:] if not _finite(value)]\n",
        "a NaN/inf loss before the last logged step passes",
    ),
    mutant(
        "verify-export-exit-ignored",
        VERIFY,
        "    parts, ok = [], ran.returncode == 0\n",
        "    parts, ok = [], True\n",
        "a non-zero exit status of `export --check` is ignored",
    ),
    mutant(
        "verify-export-no-checks",
        VERIFY,
        "    if not isinstance(checks, list) or not checks:\n",
        "    if not isinstance(checks, list):\n",
        "an export.json with an empty list of checks passes (nothing was compared)",
    ),
    mutant(
        "verify-export-tolerance-ignored",
        VERIFY,
        "        within = _finite(diff) and _finite(tolerance) and diff <= tolerance\n",
        "        within = _finite(tolerance)\n",
        "the export check ignores max_abs_diff (only the project's own `passed` counts)",
    ),
    mutant(
        "verify-export-claims-ignored",
        VERIFY,
        '        good = item.get("passed") is True and within\n',
        "        good = within\n",
        "an export check the project itself marked passed: false is accepted when the numbers fit",
    ),
    mutant(
        "verify-class-agreement-ignored",
        VERIFY,
        "            within = within and _finite(agreement) and _finite(minimum) and agreement >= minimum\n",
        "            within = within and (_finite(agreement) or True)\n",
        "class agreement below min_agreement (quantised classifiers) is ignored",
    ),
    mutant(
        "verify-metrics-other-framework",
        VERIFY,
        '    for key, expected in (("framework", project.framework), ("task", project.task)):\n',
        '    for key, expected in (("task", project.task),):\n',
        "a metrics.json written for another framework is accepted",
    ),
    mutant(
        "verify-metrics-other-task",
        VERIFY,
        '    for key, expected in (("framework", project.framework), ("task", project.task)):\n',
        '    for key, expected in (("framework", project.framework),):\n',
        "a metrics.json written for another task is accepted",
    ),
    mutant(
        "verify-no-tests-collected-passes",
        VERIFY,
        '        return Check("project tests", False, "pytest collected no tests")\n',
        '        return Check("project tests", True, "pytest collected no tests")\n',
        "a project whose pytest collects no tests (exit 5) passes",
    ),
    mutant(
        "verify-missing-framework-failed",
        VERIFY,
        "    if missing_framework:\n        result.verified = False\n",
        "    if missing_framework:\n        result.verified = True\n",
        "a missing framework is reported as a failure (exit 1) instead of not verified (exit 3)",
    ),
    # --- processes and signals ----------------------------------------------------------------------
    mutant(
        "steps-timeout-not-enforced",
        PROCESSES,
        "            if time.monotonic() - start > timeout:\n",
        "            if time.monotonic() - start > timeout * 10:\n",
        "a step's time-out is not enforced (it runs 10x longer)",
    ),
    mutant(
        "steps-finished-tree-left",
        PROCESSES,
        "        kill_tree(proc, list(seen.values()), grace=KILL_GRACE if timed_out else None)\n",
        "        if timed_out:\n            kill_tree(proc, list(seen.values()), grace=KILL_GRACE)\n",
        "the children of a finished step are not killed (no final tree kill in run_step)",
    ),
    mutant(
        "steps-orphans-left",
        PROCESSES,
        "    if not _subreaper:\n        return\n    with _active_lock:\n",
        "    if True:\n        return\n    with _active_lock:\n",
        "orphans a step left (re-parented to dlpick, the subreaper) are not killed",
    ),
    mutant(
        "steps-no-cleanup-after-finish",
        PROCESSES,
        "        kill_tree(proc, list(seen.values()), grace=KILL_GRACE if timed_out else None)\n",
        "        if timed_out:\n            kill_tree(proc, list(seen.values()), grace=KILL_GRACE)\n",
        "neither the tree nor the orphans of a finished step are killed (both defences removed)",
        (),
        (
            "    if not _subreaper:\n        return\n    with _active_lock:\n",
            "    if True:\n        return\n    with _active_lock:\n",
        ),
    ),
    mutant(
        "steps-cancel-ignored",
        PROCESSES,
        "            if cancel is not None and cancel.is_set():\n",
        "            if cancel is not None and cancel.is_set() and False:\n",
        "a step running in another thread (the project's tests) ignores `cancel`",
    ),
    mutant(
        "signals-sigterm-not-handled",
        PROCESSES,
        "    for sig in HANDLED:\n        with contextlib.suppress(OSError, ValueError):\n"
        "            if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored\n",
        "    for sig in (signal.SIGINT,):\n        with contextlib.suppress(OSError, ValueError):\n"
        "            if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored\n",
        "SIGTERM and SIGHUP are not handled like SIGINT (install_signal_handlers handles SIGINT only)",
    ),
    mutant(
        "signals-deferred-lost",
        PROCESSES,
        "    if caught:\n        raise Interrupted(caught[0])\n",
        "    if caught and False:\n        raise Interrupted(caught[0])\n",
        "a signal that arrives while signals are deferred (renames) is swallowed",
    ),
    mutant(
        "signals-exit-code-130",
        PROCESSES,
        "    return word, 128 + signum\n",
        "    return word, 130\n",
        "every signal exits 130 (SIGTERM should be 143, SIGHUP 129)",
    ),
    mutant(
        "signals-outcome-nothing-written",
        PROCESSES,
        '    return "; ".join(_outcome) or "nothing was written"\n',
        '    return "nothing was written"\n',
        "the interrupt message says nothing was written even after a project was written",
    ),
    mutant(
        "scaffold-outcome-not-recorded",
        RENDER,
        '                    processes.record(f"the project is complete at {dest}")\n',
        "                    processes.record\n",
        "an interrupted scaffold+verify does not say the project was written (says nothing was written)",
    ),
    # --- render / --force / overlay / scaffold --------------------------------------------------------
    mutant(
        "force-no-rollback",
        OVERLAY,
        "            for rel, had in reversed(done):\n",
        "            for rel, had in reversed(done[:0]):\n",
        "a failed rename during --force does not roll back: the old files are lost",
    ),
    mutant(
        "force-deletes-other-files",
        OVERLAY,
        "    old_root = staging / OLD\n",
        "    old_root = staging / OLD\n"
        "    produced = {Path(rel).parts[0] for rel in files_of(project)}\n"
        "    for extra in [p for p in dest.iterdir() if p.is_file() and p.name not in produced]:\n"
        "        extra.unlink()\n",
        "--force deletes files in the folder that the template does not produce",
    ),
    mutant(
        "force-ignores-dirty-git",
        OVERLAY,
        '        (ignored if code == "!!" else dirty).append(rel)\n',
        '        (ignored if code == "!!" else []).append(rel)\n',
        "--force overwrites files with uncommitted git changes (git_state returns no dirty files)",
    ),
    mutant(
        "force-no-backup-outside-git",
        RENDER,
        "backup=ignored if in_git else placed.overwritten,",
        "backup=ignored if in_git else [],",
        "outside git, --force keeps no backup of the files it overwrites",
    ),
    mutant(
        "force-home-not-risky",
        OVERLAY,
        '    if real in homes():\n        return "is a home folder"\n',
        '    if real in homes() and False:\n        return "is a home folder"\n',
        "a home folder is not refused as such (risky returns no 'home folder' reason)",
    ),
    mutant(
        "force-foreign-not-risky",
        OVERLAY,
        "    if not any((real / marker).is_file() for marker in PROJECT_MARKERS):\n",
        "    if False:\n",
        "a folder holding no generated project takes a single --force",
    ),
    mutant(
        "force-once-is-enough",
        RENDER,
        "    if occupied and force < 2 and (why := overlay.risky(dest)):\n",
        "    if occupied and force < 1 and (why := overlay.risky(dest)):\n",
        "one --force writes into a home folder, a root or a foreign folder (no second confirmation)",
    ),
    mutant(
        "render-no-force-needed",
        RENDER,
        "    if occupied and not force:\n",
        "    if occupied and force < 0:\n",
        "a non-empty destination is written into without --force",
    ),
    mutant(
        "render-staging-not-cleaned",
        RENDER,
        "            if staging is not None:\n                shutil.rmtree(staging, ignore_errors=True)\n",
        "            if staging is not None and False:\n                shutil.rmtree(staging, ignore_errors=True)\n",
        "the staging folder is left beside the project after a scaffold",
    ),
    mutant(
        "render-fill-empty-no-rollback",
        RENDER,
        "        for target in moved:  # the folder was empty: empty it again\n            _remove(target)\n",
        "        for target in moved:  # the folder was empty: empty it again\n            pass\n",
        "a failure while filling an empty folder leaves half a project in it",
    ),
    mutant(
        "staging-stale-not-cleaned",
        OVERLAY,
        "                shutil.rmtree(path, ignore_errors=True)\n    return kept\n",
        "                pass\n    return kept\n",
        "stale staging folders left by a killed dlpick are never cleaned",
    ),
    mutant(
        "staging-stale-with-files-deleted",
        OVERLAY,
        "                if old.is_dir() and any(old.iterdir()):\n",
        "                if old.is_dir() and any(old.iterdir()) and False:\n",
        "a stale staging folder holding old versions of a user's files is deleted",
    ),
    mutant(
        "staging-in-use-deleted",
        OVERLAY,
        "                if not free:\n                    continue  # another dlpick is using it\n",
        "                if not free and False:\n                    continue  # another dlpick is using it\n",
        "a staging folder another running dlpick holds (locked) is deleted",
    ),
    mutant(
        "scaffold-picks-last-ranked",
        RENDER,
        "    for place, framework in enumerate(ranked, 1):\n",
        "    for place, framework in enumerate(ranked[::-1], 1):\n",
        "`scaffold --answers` takes the last-ranked framework with a template instead of the first",
    ),
    # --- envs ------------------------------------------------------------------------------------------
    mutant(
        "envs-any-dir-is-dlpicks",
        ENVS,
        "    if not NAME_RE.fullmatch(path.name):\n        return False\n",
        "    return True\n",
        "`envs remove` removes any folder in the cache, not only those dlpick built",
    ),
    mutant(
        "envs-symlink-followed",
        ENVS,
        "    if path.is_symlink() or not path.is_dir() or path.parent.resolve() != root.resolve():\n",
        "    if not path.is_dir() or path.parent.resolve() != root.resolve():\n",
        "a symbolic link in the cache pointing at a folder with a marker counts as dlpick's",
    ),
    mutant(
        "envs-foreign-folder-replaced",
        ENVS,
        "            if not built_by_dlpick(path, root, count_lock=had_lock):\n                raise EnvError(\n",
        "            if False:\n                raise EnvError(\n",
        "a build deletes a folder at the environment's path that dlpick did not build",
    ),
    mutant(
        "envs-unfinished-reused",
        ENVS,
        "        if (path / MARKER).is_file() and Path(_python_of(path, spec)).exists():\n",
        "        if Path(_python_of(path, spec)).exists():\n",
        "an unfinished environment (no completion marker) is reused instead of rebuilt",
    ),
    mutant(
        "envs-failed-build-left",
        ENVS,
        "        except BaseException:\n            _remove_tree(path)\n            owner_file(path)",
        "        except BaseException:\n            owner_file(path)",
        "a failed or interrupted build leaves its half-built environment folder",
    ),
    # --- scoring and answers ---------------------------------------------------------------------------
    mutant(
        "scoring-stability-leaves-range",
        SCORING,
        "            if not 0 <= new_weight <= MAX_WEIGHT:\n",
        "            if False:\n",
        "the stability check may propose a weight outside 0..5",
    ),
    mutant(
        "scoring-features-of-a-kind-all-count",
        CRITERIA,
        "values[kind] * share[kind] * (1.0 if",
        "values[kind] * share[kind] * sum(i.kind == kind for i in items) * (1.0 if",
        "several features of one kind all count (each kind should count once)",
    ),
    mutant(
        "scoring-features-uncapped",
        CRITERIA,
        "clamp(got / known) if known",
        "(got / known) if known",
        "a feature criterion's score may exceed 1 (no clamp)",
    ),
    mutant(
        "scoring-hardware-warning-vanishes",
        SCORING,
        '        if support and support.level in ("experimental", "cpu-fallback", "community"):\n',
        '        if support and support.level in ("cpu-fallback",):\n',
        'the "only experimental / community support" warning vanishes',
    ),
    mutant(
        "scoring-retired-not-excluded",
        SCORING,
        "    if fw.retired and not answers.include_retired:\n",
        "    if fw.retired and answers.include_retired is None:\n",
        "retired frameworks are ranked by default (not excluded)",
    ),
    mutant(
        "scoring-python-not-excluded",
        SCORING,
        "    if answers.python not in python.versions and answers.python not in python.last_release_for:\n",
        "    if False:\n",
        "a framework that does not support the team's Python is not excluded",
    ),
    mutant(
        "answers-priority-range-unchecked",
        ANSWERS,
        "    if not 0 <= value <= LEVEL_MAX:\n",
        "    if integer and not 0 <= value <= LEVEL_MAX:\n",
        "priority weights outside 0..5 (9, -3) are accepted",
    ),
    mutant(
        "answers-familiarity-range-unchecked",
        ANSWERS,
        "    if not 0 <= value <= LEVEL_MAX:\n",
        "    if not integer and not 0 <= value <= LEVEL_MAX:\n",
        "familiarity levels outside 0..5 are accepted",
    ),
    mutant(
        "answers-include-retired-any-type",
        ANSWERS,
        '        if not isinstance(raw["include_retired"], bool):\n',
        '        if raw["include_retired"] is None:\n',
        'include_retired: "no" (a string) is accepted, and is true',
    ),
    # --- knowledge base --------------------------------------------------------------------------------
    mutant(
        "schema-weight-unbounded",
        SCHEMA,
        "Weight = Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)]",
        "Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]",
        "a default weight above 5 in criteria.yaml is accepted",
    ),
    mutant(
        "knowledge-unknown-successor",
        KNOWLEDGE,
        "        if successor and successor not in frameworks and successor not in (present or ()):\n",
        "        if False:\n",
        "a successor that names no known framework is not reported",
    ),
    mutant(
        "knowledge-overlay-replaces",
        KNOWLEDGE,
        "            merged[key] = _merge(base.get(key), value) if key in base else value\n",
        "            merged[key] = value\n",
        "a team overlay replaces whole sections instead of merging key by key",
    ),
    mutant(
        "knowledge-stale-cache",
        KNOWLEDGE,
        '        digest.update(f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}\\n".encode())\n',
        '        digest.update(f"{path.resolve()}\\n".encode())\n',
        "an edited knowledge file is not seen: the cached knowledge base is used",
    ),
    # --- issue 27: the next list (processes, envs, overlay edge cases, loaders' bounds, records) -------
    mutant(
        "steps-sigterm-ignorer-never-killed",
        PROCESSES,
        "    signals = [(signal.SIGTERM, grace), (signal.SIGKILL, None)] if grace else",
        "    signals = [(signal.SIGTERM, grace)] if grace else",
        "a step that ignores SIGTERM past its time limit is never SIGKILLed (dlpick hangs on it)",
    ),
    mutant(
        "steps-grandchild-lost-without-subreaper",
        PROCESSES,
        "    found = [*seen, *_descendants(proc.pid)]\n",
        "    found = list(seen)\n",
        "a stopped step's descendants are looked up only after it died (one in its own session escapes)",
    ),
    mutant(
        "steps-seen-descendants-forgotten",
        PROCESSES,
        "    found = [*seen, *_descendants(proc.pid)]\n",
        "    found = []\n",
        "the descendants seen while a step ran are not killed with it",
    ),
    mutant(
        "signals-deferred-last-not-first",
        PROCESSES,
        "        raise Interrupted(caught[0])\n",
        "        raise Interrupted(caught[-1])\n",
        "of two signals held in a deferred block, the last is delivered (exit status of the wrong signal)",
    ),
    mutant(
        "signals-deferred-unignores",
        PROCESSES,
        "            if signal.getsignal(sig) is not signal.SIG_IGN:  # an ignored signal stays ignored\n",
        "            if True:  # an ignored signal stays ignored\n",
        "a signal ignored by the caller (nohup's SIGHUP) is caught and delivered by a deferred block",
    ),
    mutant(
        "capture-timeout-not-enforced",
        PROCESSES,
        "        deadline = time.monotonic() + timeout\n        for key, proc in running.items():\n",
        "        deadline = time.monotonic() + timeout * 100\n        for key, proc in running.items():\n",
        "capture/capture_all let a command run far past its time limit",
    ),
    mutant(
        "envs-key-ignores-python",
        ENVS,
        "            self.python_version(),\n",
        "",
        "an environment built for one Python is reused by another (its key ignores the interpreter version)",
    ),
    mutant(
        "envs-key-ignores-constraints",
        ENVS,
        "            [c for _, c in self.constraints],\n",
        "            [],\n",
        "an environment built without constraints is reused when constraints are given",
    ),
    mutant(
        "envs-deletes-through-a-mount",
        ENVS,
        "    if left:\n        raise EnvError(",
        "    if False:\n        raise EnvError(",
        "a build folder is deleted although a mount inside it would not come off (deleting through it)",
    ),
    mutant(
        "envs-mounts-prefix-loose",
        ENVS,
        '    return sorted((p for p in points if p == prefix or p.startswith(prefix + "/")), key=len, reverse=True)\n',
        "    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)\n",
        "a mount of a sibling folder (root2 beside root) counts as inside the folder being removed",
    ),
    mutant(
        "force-folder-where-a-file-goes",
        OVERLAY,
        "        if target.is_dir() and not target.is_symlink():\n",
        "        if False:\n",
        "--force moves a user's folder away where the template writes a file",
    ),
    mutant(
        "force-writes-through-a-linked-folder",
        OVERLAY,
        "and (where.is_symlink() or not where.is_dir()):\n",
        "and not where.is_dir():\n",
        "--force writes through a folder of the destination that is a symlink to elsewhere",
    ),
    mutant(
        "force-untracked-file-overwritten",
        OVERLAY,
        '        (ignored if code == "!!" else dirty).append(rel)\n',
        '        if code != "??":\n            (ignored if code == "!!" else dirty).append(rel)\n',
        "--force overwrites a file never committed in a git tree (untracked counts as clean)",
    ),
    mutant(
        "force-ignored-file-not-kept",
        RENDER,
        "backup=ignored if in_git else placed.overwritten,",
        "backup=[] if in_git else placed.overwritten,",
        "inside git, --force keeps no old version of a git-ignored file it overwrites",
        ("tests/test_force.py", "tests/test_render.py"),
    ),
    mutant(
        "force-backup-move-no-rollback",
        OVERLAY,
        "        for rel in moved:\n            with contextlib.suppress(OSError):\n",
        "        for rel in moved[:0]:\n            with contextlib.suppress(OSError):\n",
        "a failure while keeping backups leaves old versions half moved (not back in the staging folder)",
    ),
    mutant(
        "json-depth-unbounded",
        JSONFILE,
        "    if nesting_depth(text) > MAX_DEPTH:\n",
        "    if False:\n",
        "deeply nested JSON is parsed (a RecursionError or a crash instead of one line)",
    ),
    mutant(
        "json-duplicate-keys-kept",
        JSONFILE,
        "        if key in out:\n",
        "        if False:\n",
        "a JSON object with a duplicate key is read (the last value wins silently)",
    ),
    mutant(
        "json-infinity-read",
        JSONFILE,
        "    if not math.isfinite(value):\n",
        "    if False:\n",
        "1e999 in JSON is read as infinity (every later comparison is false)",
    ),
    mutant(
        "json-huge-integer-read",
        JSONFILE,
        '    if len(text.lstrip("-")) > 100:\n',
        '    if len(text.lstrip("-")) > 100000:\n',
        "a JSON integer of thousands of digits is converted (quadratic time)",
    ),
    mutant(
        "json-size-unbounded",
        JSONFILE,
        "    if len(data) > limit:\n",
        "    if False:\n",
        "a file larger than the limit is read whole",
    ),
    mutant(
        "json-device-read",
        JSONFILE,
        "    if not stat.S_ISREG(kind):\n        os.close(fd)\n",
        "    if False:\n        os.close(fd)\n",
        "a named pipe or a device (/dev/zero) is read as a file",
    ),
    mutant(
        "yaml-aliases-expanded",
        YAMLFILE,
        "        elif isinstance(event, yaml.AliasEvent):\n",
        "        elif False:\n",
        "YAML aliases are expanded (a billion-laughs file builds billions of objects)",
    ),
    mutant(
        "yaml-duplicate-keys-kept",
        YAMLFILE,
        "                    if seen is not None:\n",
        "                    if False:\n",
        "a YAML mapping with a duplicate key is read (the last value wins silently)",
    ),
    mutant(
        "yaml-size-unbounded",
        YAMLFILE,
        '    data = read_regular(path, limit, "YAML file")\n',
        '    data = read_regular(path, limit << 10, "YAML file")\n',
        "a YAML file far over the size limit is read",
    ),
    mutant(
        "record-links-unpacked",
        RECORD,
        '                if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:\n',
        '                if name.startswith("/") or ".." in Path(name).parts:\n',
        "a base tarball's symlink or device member is accepted",
    ),
    mutant(
        "record-parent-paths-unpacked",
        RECORD,
        '                if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:\n',
        '                if not member.isfile() or name.startswith("/"):\n',
        "a base tarball member named ../outside is accepted",
    ),
    mutant(
        "record-bomb-unbounded",
        RECORD,
        "                if len(files) >= MAX_MEMBERS or total > MAX_BASE_BYTES:\n",
        "                if False:\n",
        "a base tarball of any number of members or unpacked size is read",
    ),
    mutant(
        "record-framework-any-text",
        RECORD,
        '    if not isinstance(data["framework"], str) or not data["framework"].isidentifier():\n',
        '    if not isinstance(data["framework"], str):\n',
        "a record's framework may be any text (a path such as ../../x)",
    ),
    mutant(
        "recorded-context-slug-unchecked",
        RENDER,
        "        if key in context and context[key] != result[key]:\n",
        "        if False:\n",
        "a record whose package_name disagrees with its project name is used (rendered into source files)",
        ("tests/faults/test_records.py", "tests/test_update.py", "tests/test_render.py"),
    ),
    mutant(
        "recorded-context-task-unchecked",
        RENDER,
        '        check_task(template, values["task"])\n        result = context_for(',
        "        result = context_for(",
        "a record naming a task the template does not have is used",
        ("tests/faults/test_records.py", "tests/test_update.py", "tests/test_render.py"),
    ),
    mutant(
        "schema-maintenance-without-since",
        SCHEMA,
        '        if self.value != "active" and self.since is None:\n',
        '        if self.value == "retired" and self.since is None:\n',
        "a framework in maintenance without `since` is accepted",
    ),
    mutant(
        "schema-malformed-url-accepted",
        SCHEMA,
        "        if URL_LIKE.match(value.strip()):",
        '        if value.startswith(("http://", "https://")):',
        "a malformed source URL (https:/host, htps://host) is accepted as a document",
    ),
    mutant(
        "verify-export-first-format-only",
        VERIFY,
        "    for item in checks:\n",
        "    for item in checks[:1]:\n",
        "only the first export format is judged",
    ),
    mutant(
        "verify-export-last-format-decides",
        VERIFY,
        "        ok = ok and good\n",
        "        ok = good\n",
        "the export check's verdict is the last format's (an earlier failing format is forgotten)",
    ),
]


def find(ids: str) -> list[Mutant]:
    wanted = [part.strip() for part in ids.split(",") if part.strip()]
    known = {m.id: m for m in MUTANTS}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"mutation-check: unknown mutant(s): {', '.join(unknown)} (see --list)")
    return [known[w] for w in wanted]


def mutated(m: Mutant, text: str) -> tuple[str | None, str]:
    """The file's text with the mutant applied, or None and why it no longer applies."""
    for number, (old, new) in enumerate(m.edits, 1):
        where = f"edit {number}: " if len(m.edits) > 1 else ""
        count = text.count(old)
        if count != 1:
            shown = old.strip().splitlines()[0][:80] if old.strip() else repr(old)
            return None, f"{where}`{shown}` occurs {count} times in {m.file}, expected exactly once"
        if old == new:
            return None, f"{where}old and new text are the same"
        text = text.replace(old, new)
    if m.file.endswith(".py"):
        try:
            compile(text, m.file, "exec")
        except SyntaxError as exc:
            return None, f"the mutated file does not compile: {exc}"
    return text, ""


def problems_of(mutants: Sequence[Mutant], root: Path) -> dict[str, str]:
    """Mutant id -> why it is stale, for those that no longer apply to the files under `root`."""
    found = {}
    ids = [m.id for m in MUTANTS]
    for m in mutants:
        if ids.count(m.id) > 1:
            found[m.id] = "duplicate id"
            continue
        path = root / m.file
        if not path.is_file():
            found[m.id] = f"{m.file} does not exist"
            continue
        _, why = mutated(m, path.read_text(encoding="utf-8"))
        if why:
            found[m.id] = why
    return found


# --- the copy --------------------------------------------------------------------------------------

PLUGIN = '''
"""Loaded into each pytest run by scripts/mutation-check.py (-p _mutation_plugin)."""
import json
import os
from pathlib import Path

import pytest


def _ids(variable):
    path = os.environ.get(variable)
    return set(json.loads(Path(path).read_text())) if path else None


def pytest_sessionstart(session):
    import dlpick

    copy = Path(os.environ["MUTATION_COPY"]).resolve()
    where = Path(dlpick.__file__).resolve()
    if copy not in where.parents:
        pytest.exit(f"mutation-check: dlpick was imported from {where}, not from the copy {copy}", returncode=4)


def pytest_collection_modifyitems(config, items):
    deselect, select = _ids("MUTATION_DESELECT") or set(), _ids("MUTATION_SELECT")
    keep = [i for i in items if i.nodeid not in deselect and (select is None or i.nodeid in select)]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _record(nodeid, when, text):
    with open(os.environ["MUTATION_FAILURES"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"nodeid": nodeid, "when": when, "message": text[-2000:]}) + "\\n")


def pytest_runtest_logreport(report):
    if report.failed:
        _record(report.nodeid, report.when, str(report.longrepr or ""))


def pytest_collectreport(report):
    if report.failed:
        _record(report.nodeid or "(collection)", "collect", str(report.longrepr or ""))
'''


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    return list(dict.fromkeys(name for name in out.decode("utf-8", "surrogateescape").split("\0") if name))


def make_copy(root: Path, dest: Path) -> int:
    """Copy the repository's tracked and untracked-not-ignored files (symlinks as symlinks)."""
    count = 0
    for rel in tracked_files(root):
        source, target = root / rel, dest / rel
        if source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source.readlink())
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
        else:
            continue  # deleted in the working tree, or a submodule
        count += 1
    return count


@dataclass
class Workspace:
    copy: Path
    scratch: Path  # plugin, id lists, logs
    deselected: dict[str, str] = field(default_factory=dict)  # node id -> why

    def env(self, failures: Path, select: set[str] | None = None, skip: Iterable[str] = ()) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.copy), str(self.scratch / "plugin")])
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # a same-size mutant written in the same second must not hit a stale .pyc
        env["MUTATION_COPY"] = str(self.copy)
        env["MUTATION_FAILURES"] = str(failures)
        env["XDG_CACHE_HOME"] = str(self.scratch / "cache")
        env.pop("PYTEST_ADDOPTS", None)
        deselect = self.scratch / "deselect.json"
        deselect.write_text(json.dumps(sorted({*self.deselected, *skip})), encoding="utf-8")
        env["MUTATION_DESELECT"] = str(deselect)
        if select is not None:
            chosen = self.scratch / "select.json"
            chosen.write_text(json.dumps(sorted(select)), encoding="utf-8")
            env["MUTATION_SELECT"] = str(chosen)
        else:
            env.pop("MUTATION_SELECT", None)
        return env


def check_import(work: Workspace) -> str:
    """Fail loudly unless the copy's `dlpick` is the one imported (an editable install points at the repo)."""
    env = work.env(work.scratch / "import-failures.jsonl")
    proc = subprocess.run(
        [sys.executable, "-c", "import dlpick; print(dlpick.__file__)"],
        cwd=work.copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    where = Path(proc.stdout.strip() or "?").resolve()
    if proc.returncode != 0 or work.copy.resolve() not in where.parents:
        raise SystemExit(f"mutation-check: dlpick imports from {where}, not from the copy {work.copy}: {proc.stderr}")
    return str(where)


# --- running pytest --------------------------------------------------------------------------------


@dataclass
class Run:
    outcome: str  # passed | failed | timeout | error
    seconds: float
    failures: list[dict[str, Any]]
    log: Path
    returncode: int | None


def _kill(proc: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(Exception):
        import psutil

        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(10)


_counter = [0]


def pytest_run(
    work: Workspace,
    paths: Sequence[str],
    timeout: float,
    *,
    first: bool = True,
    extra: Sequence[str] = (),
    select: set[str] | None = None,
    skip: Iterable[str] = (),
) -> Run:
    _counter[0] += 1
    log = work.scratch / "logs" / f"run-{_counter[0]:03d}.log"
    failures_file = work.scratch / "logs" / f"run-{_counter[0]:03d}.failures.jsonl"
    log.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, *PYTEST, *(["-x"] if first else []), *extra, *paths]
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=work.copy,
            env=work.env(failures_file, select, skip),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        code: int | None = None
        try:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout)
        finally:  # a time-out, or Ctrl-C here: nothing of the run may outlive it
            if code is None:
                _kill(proc)
    seconds = time.monotonic() - start
    failures = []
    if failures_file.is_file():
        for line in failures_file.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                failures.append(json.loads(line))
    if code is None:
        outcome = "timeout"
    elif code == 0:
        outcome = "passed"
    elif code in (1, 2) or failures:  # 2: interrupted (a collection error, or a KeyboardInterrupt)
        outcome = "failed"
    else:
        outcome = "error"
    if code == 4 and "mutation-check: dlpick was imported from" in log.read_text(encoding="utf-8", errors="replace"):
        raise SystemExit(f"mutation-check: the tests did not import the copy's dlpick; see {log}")
    return Run(outcome, seconds, failures, log, code)


def first_failure(run: Run) -> str:
    if run.outcome == "timeout":
        return f"(no result within {run.seconds:.0f} s)"
    if run.failures:
        failure = run.failures[0]
        return shorten(f"{failure['nodeid']} ({failure['when']})" if failure["when"] != "call" else failure["nodeid"])
    text = run.log.read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():
        if line.startswith(("FAILED ", "ERROR ")) or "KeyboardInterrupt" in line or "Interrupted:" in line:
            return shorten(line)
    return shorten(text.strip().splitlines()[-1] if text.strip() else f"pytest exit status {run.returncode}")


def shorten(text: str, limit: int = SHOWN) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- one mutant ------------------------------------------------------------------------------------


@dataclass
class Result:
    id: str
    file: str
    description: str
    status: str = "survived"  # killed | timeout | survived | error | undecided
    stage: str = ""  # targeted | full | given: which tests decided it
    killed_by: str = ""
    seconds: float = 0.0
    stages: list[dict[str, Any]] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)  # tests that failed on the original code too (deselected)
    log: str = ""

    @property
    def killed(self) -> bool:
        return self.status in ("killed", "timeout")


@contextlib.contextmanager
def planted(work: Workspace, m: Mutant) -> Iterator[None]:
    path = work.copy / m.file
    original = path.read_bytes()
    text, why = mutated(m, original.decode("utf-8"))
    if text is None:
        raise SystemExit(f"mutation-check: mutant {m.id} is stale: {why}")
    path.write_text(text, encoding="utf-8")
    try:
        yield
    finally:
        path.write_bytes(original)


def stages_for(m: Mutant, args: argparse.Namespace) -> list[tuple[str, list[str], list[str]]]:
    """(stage name, test paths, extra pytest arguments) to run in order until one kills the mutant."""
    if args.tests:
        return [("given", args.tests, [])]
    targets = [t for t in (m.tests or TARGETS.get(m.file, ())) if not args.no_targeted]
    full = ("full", [], [f"--ignore={t}" for t in targets])
    if args.targeted_only and targets:
        return [("targeted", targets, [])]  # a survivor here is undecided until the full suite runs
    return [("targeted", targets, []), full] if targets else [full]


def run_mutant(work: Workspace, m: Mutant, args: argparse.Namespace) -> Result:
    result = Result(m.id, m.file, m.description)
    start = time.monotonic()
    skip: set[str] = set()  # tests that failed with this mutant only among the others, not alone
    for _attempt in range(ATTEMPTS):  # again only when the killing test turned out to be flaky or broken
        result.status, result.stage, result.killed_by, result.stages = "survived", "", "", []
        run, alone = None, True
        with planted(work, m):
            for stage, paths, extra in stages_for(m, args):
                run = pytest_run(work, paths, args.timeout, extra=extra, skip=skip)
                result.stages.append({"stage": stage, "outcome": run.outcome, "seconds": round(run.seconds, 1)})
                result.log = str(run.log)
                if run.outcome != "passed":
                    result.stage = stage
                    break
            if run is not None and run.outcome in ("failed", "error") and run.failures:
                alone = fails_alone(work, run, args)  # the kill reproduces with only that test
        if run is None or run.outcome == "passed":
            result.stage = result.stages[-1]["stage"] if result.stages else ""
            break
        if run.outcome == "timeout":
            result.status, result.killed_by = "timeout", first_failure(run)
            break
        if run.outcome == "error" and not run.failures:
            result.status, result.killed_by = "error", first_failure(run)
            break
        result.status, result.killed_by = "killed", first_failure(run)
        nodeid = run.failures[0]["nodeid"]
        if fails_alone(work, run, args, planted_now=False):  # fails on the unmutated code: a broken test
            work.deselected[nodeid] = f"failed on the unmutated code too (seen while checking {m.id})"
            result.flaky.append(shorten(nodeid) + " (fails without the mutant; deselected from now on)")
        elif not alone:  # failed only under load / among the others: flaky, not a proof
            skip.add(nodeid)
            result.flaky.append(shorten(nodeid) + " (failed with the mutant, but not when run alone)")
        else:
            break
    else:
        result.status = "undecided"  # every attempt ended on a flaky or broken test
    result.seconds = time.monotonic() - start
    return result


def fails_alone(work: Workspace, run: Run, args: argparse.Namespace, planted_now: bool = True) -> bool:
    """Whether the first failing test of `run` fails again when run alone (with the code as it is now).

    With the mutant planted, True confirms the kill; on the unmutated code, True means the test is broken.
    """
    if args.no_confirm or not run.failures or run.failures[0]["when"] == "collect":
        return planted_now  # nothing to re-run: take a collection error at its word
    nodeid = run.failures[0]["nodeid"]
    again = pytest_run(work, [nodeid.split("::", 1)[0]], min(args.timeout, 600), select={nodeid})
    return again.outcome != "passed"


# --- main ------------------------------------------------------------------------------------------


def baseline(work: Workspace, args: argparse.Namespace, say: Any) -> None:
    """Run the chosen tests on the unmutated code; deselect those that fail there already."""
    say("baseline: running the quick suite on the unmutated code (failing tests are deselected)...")
    run = pytest_run(work, args.tests or [], max(args.timeout, 1800), first=False)
    if run.outcome == "timeout":
        raise SystemExit(f"mutation-check: the baseline run timed out; see {run.log}")
    if run.outcome == "error" and not run.failures:
        raise SystemExit(f"mutation-check: the baseline run failed (exit {run.returncode}); see {run.log}")
    for failure in run.failures:
        if failure["when"] == "collect":
            raise SystemExit(f"mutation-check: the unmutated code fails to collect {failure['nodeid']}; see {run.log}")
        work.deselected[failure["nodeid"]] = "fails on the unmutated code"
    say(f"baseline: {run.outcome} in {run.seconds:.0f} s; {len(run.failures)} failing test(s) deselected")
    for failure in run.failures:
        say(f"  deselected (fails without a mutant): {shorten(failure['nodeid'])}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mutation-check.py",
        description="Plant each listed bug in a copy of dlpick/, run the quick tests, report survivors.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Usage:" + (__doc__ or "Usage:").split("Usage:", 1)[1],
    )
    parser.add_argument("--only", metavar="ID[,ID]", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and whether each still applies")
    parser.add_argument("--check", action="store_true", help="only check that every mutant still applies")
    parser.add_argument("--tests", nargs="+", metavar="PATH", help="run these tests only (no targeted/full stages)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write the results as JSON (- stdout)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per pytest run (%(default)s)")
    parser.add_argument("--no-targeted", action="store_true", help="run the whole quick suite for every mutant")
    parser.add_argument(
        "--targeted-only", action="store_true", help="only the targeted tests (a survivor is not run on the rest)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on the unmutated code")
    parser.add_argument("--no-confirm", action="store_true", help="do not re-run a killing test on the original code")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy and the pytest logs")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    selected = find(args.only) if args.only else list(MUTANTS)
    to_stdout = args.json == "-"

    def say(text: str) -> None:
        print(text, file=sys.stderr if to_stdout else sys.stdout, flush=True)

    if args.list or args.check:
        stale = problems_of(MUTANTS, ROOT)
        if args.list:
            width = max(len(m.id) for m in MUTANTS)
            for m in selected:
                mark = f"STALE: {stale[m.id]}" if m.id in stale else m.description
                say(f"{m.id:<{width}}  {m.file:<24}  {mark}")
            say(f"{len(selected)} mutant(s); {len(stale)} stale")
        else:
            for key, why in stale.items():
                say(f"STALE {key}: {why}")
            say(f"{len(MUTANTS) - len(stale)} of {len(MUTANTS)} mutants apply to {ROOT}")
        return 1 if any(m.id in stale for m in selected) else 0

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signum)

    # Ctrl-C, kill and a closed terminal all clean up (a background job starts with SIGINT ignored).
    # Under nohup SIGHUP stays ignored here, through a handler: an ignored signal would be inherited
    # by the tests' children, and the tests of dlpick's own SIGHUP handling would fail.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        ignored = sig == signal.SIGHUP and signal.getsignal(sig) is signal.SIG_IGN
        signal.signal(sig, (lambda signum, frame: None) if ignored else stop)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="dlpick-mutation-"))
    work = Workspace(scratch / "repo", scratch)
    results: list[Result] = []
    try:
        count = make_copy(ROOT, work.copy)
        (scratch / "plugin").mkdir()
        (scratch / "plugin" / "_mutation_plugin.py").write_text(PLUGIN, encoding="utf-8")
        say(f"copied {count} files of {ROOT} to {work.copy}")
        say(f"dlpick imported from {check_import(work)}")
        stale = problems_of(selected, work.copy)
        if stale:
            for key, why in stale.items():
                say(f"STALE mutant {key}: {why}")
            say("mutation-check: fix the stale mutants above (the code moved on); nothing was run")
            return 2
        if not args.no_baseline:
            baseline(work, args, say)
        width = max(len(m.id) for m in selected)
        for number, m in enumerate(selected, 1):
            result = run_mutant(work, m, args)
            results.append(result)
            ran = "+".join(f"{s['stage']} {s['seconds']:.0f}s" for s in result.stages)
            line = f"[{number:>2}/{len(selected)}] {m.id:<{width}}  {result.status:<8} {result.seconds:6.1f}s  ({ran})"
            if result.killed_by:
                line += f"  {result.killed_by}"
            if result.flaky:
                line += f"  [flaky, deselected: {', '.join(result.flaky)}]"
            say(line)
    except KeyboardInterrupt:
        say("mutation-check: interrupted; the repository was never touched (all ran in a copy)")
        return 130
    finally:
        if args.keep:
            say(f"kept the copy and logs in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    total = time.monotonic() - started
    killed = [r for r in results if r.killed]
    survivors = [r for r in results if r.status == "survived"]
    errors = [r for r in results if r.status in ("error", "undecided")]
    timeouts = [r for r in results if r.status == "timeout"]
    judged = len(results) - len(errors)
    rate = 100 * len(killed) / judged if judged else 0.0
    say("")
    say(
        f"killed {len(killed)} of {judged} ({rate:.0f}%)"
        + (f", {len(timeouts)} of them by time-out" if timeouts else "")
    )
    if survivors:
        say("survivors (no test failed with this bug planted):")
        for r in survivors:
            say(f"  {r.id} ({r.file}): {r.description}")
    for r in errors:
        why = "pytest could not run" if r.status == "error" else "every killing test was flaky or broken"
        say(f"{r.status}: {r.id}: {why} ({r.killed_by}); not counted")
    if work.deselected:
        say(f"{len(work.deselected)} test(s) deselected throughout (failing without a mutant)")
    say(f"total time {total / 60:.1f} min")
    if args.json:
        data = {
            "killed": len(killed),
            "judged": judged,
            "kill_rate": round(rate, 1),
            "seconds": round(total, 1),
            "deselected": {shorten(k): v for k, v in work.deselected.items()},
            "results": [
                {**{k: v for k, v in r.__dict__.items() if k != "log" or args.keep}, "seconds": round(r.seconds, 1)}
                for r in results
            ],
        }
        text = json.dumps(data, indent=2)
        if to_stdout:
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 1 if survivors or errors else 0


if __name__ == "__main__":
    sys.exit(main())
