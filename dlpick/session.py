"""One dlpick invocation's context: the team profile, the knowledge base, how much to say.

Built once per invocation (the CLI's root command does it) and handed to the workflows. Everything is
resolved lazily and at most once: the profile is read on first use, `--knowledge` (else the profile's
`knowledge:`) is resolved once and the knowledge base loaded once, however many steps need it. A session
never prints: what `--verbose` shows (the profile and knowledge folders used) goes to `on_detail`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlpick.advise.profile import Profile
    from dlpick.kb.knowledge import Knowledge

_UNSET: Any = object()


class Session:
    """The profile, the knowledge base and the output settings of one invocation."""

    def __init__(
        self,
        profile_path: Path | None = None,
        *,
        verbosity: int = 0,
        debug: bool = False,
        on_detail: Callable[[str], None] | None = None,
    ) -> None:
        self.profile_path = profile_path  # `--profile FILE`; None: ./dlpick.yaml when it exists
        self.verbosity = verbosity  # -1 quiet (no notes or progress), 0 normal, 1 verbose
        self.debug = debug  # show tracebacks instead of one-line errors
        self._on_detail = on_detail
        self._profile: Profile | None = _UNSET
        self._knowledge_flag: Path | None = None
        self._knowledge_dir: Path | None = _UNSET
        self._knowledge: Knowledge | None = None

    def _detail(self, message: str) -> None:
        if self.verbosity > 0 and self._on_detail is not None:
            self._on_detail(message)

    @property
    def profile(self) -> Profile | None:
        """The team profile, read once; None (and no yaml/pydantic import) when there is none."""
        if self._profile is _UNSET:
            from dlpick.advise import profile

            path = profile.find(self.profile_path)
            self._profile = profile.load(path) if path else None
            if path:
                self._detail(f"profile: {path}")
        return self._profile

    def use_knowledge(self, flag: Path | None) -> Session:
        """The command's `--knowledge`; given before the knowledge base is first used."""
        if self._knowledge_dir is not _UNSET and flag != self._knowledge_flag:
            raise RuntimeError("--knowledge was given after the knowledge base was resolved")
        self._knowledge_flag = flag
        return self

    @property
    def knowledge_dir(self) -> Path | None:
        """The extra knowledge folder: `--knowledge`, else the profile's `knowledge:` (resolved once)."""
        if self._knowledge_dir is _UNSET:
            team = self.profile
            chosen = self._knowledge_flag if self._knowledge_flag is not None else (team.knowledge if team else None)
            if self.verbosity > 0:
                from dlpick.kb import knowledge

                self._detail("knowledge: " + ", ".join(str(d) for d in knowledge.knowledge_dirs(chosen)))
            self._knowledge_dir = chosen
        return self._knowledge_dir

    @property
    def knowledge(self) -> Knowledge:
        """The merged knowledge base (built-in, $DLPICK_KNOWLEDGE, then knowledge_dir), loaded once."""
        if self._knowledge is None:
            from dlpick.kb import knowledge

            self._knowledge = knowledge.load(self.knowledge_dir)
        return self._knowledge

    def answers(self, file: Path | None) -> tuple[dict[str, Any], dict[str, str], str]:
        """The profile's answers under the answers file: (raw answers, origin per key, a label for the file)."""
        from dlpick.advise import answers as answers_mod

        team = self.profile
        base = team.answers if team else {}
        base_name = f"{team.path} (answers)" if team else ""
        top = answers_mod.read_file(file) if file else {}
        top_name = str(file or "")
        raw, origin = answers_mod.layer(base, base_name, top, top_name)
        return raw, origin, top_name or base_name
