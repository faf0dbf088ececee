"""The project-name pattern of a team profile (`template.project_name: "{team}-{task}"`): what it may hold.

Apart from `profile` so that both the profile and its pydantic schema use it without importing each other.
"""

from __future__ import annotations

import string

# Placeholders a `template.project_name` pattern may use.
NAME_FIELDS = ("team", "task", "framework")
MAX_PATTERN = 200


def name_pattern_problem(pattern: str) -> str | None:
    """Why a project-name pattern is unusable, or None.

    Only the plain placeholders of NAME_FIELDS: no format spec ({team:>9999}), conversion ({team!r}),
    attribute or index ({team.x}, {team[0]}), and a bounded length.
    """
    fields = ", ".join("{" + n + "}" for n in NAME_FIELDS)
    if len(pattern) > MAX_PATTERN:
        return f"pattern longer than {MAX_PATTERN} characters"
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        return f"invalid pattern: {exc} (use {fields}; write {{{{ and }}}} for literal braces)"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in NAME_FIELDS:
            return f"unknown placeholder {{{name}}} (use {fields})"
        if spec or conversion:
            written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return f"placeholder {written} may not have a format or conversion (use {fields})"
    return None
