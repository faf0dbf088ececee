"""The rich tables `output` shows people: rankings, facts, comparisons (loaded only when printed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from dlpick.advise.scoring import Ranked, Recommendation
    from dlpick.kb.model import Framework, Sourced

BLOCKS = " ▏▎▍▌▋▊▉█"


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def bar(fraction: float, width: int = 10) -> str:
    """A bar of `width` cells with eighth-cell resolution."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def same_for_all(result: Recommendation) -> list[str]:
    """Applicable criteria on which every eligible framework scores the same: they decide nothing."""
    ranking = result.ranking
    if len(ranking) < 2:
        return []
    first = ranking[0].criteria
    return [
        name
        for name, criterion in first.items()
        if criterion.applicable and all(abs(r.criteria[name].score - criterion.score) < 1e-9 for r in ranking[1:])
    ]


def _why_column(result: Recommendation, place: int) -> str:
    """The ranking table's last column: the pick's deciding criteria, the others' biggest gaps to it."""
    decision = result.decision
    if decision is None or not decision.deciding:
        return ", ".join(r.split(":")[0] for r in result.ranking[place].reasons[1:4])
    if place == 0:
        return "leads on " + ", ".join(g.criterion for g in decision.deciding[:3])
    behind = [r.split(" on ", 1)[1].split(":")[0] for r in result.ranking[place].reasons if r.startswith("behind ")]
    return ("behind on " + ", ".join(behind[:3])) if behind else "level"


def _name(result: Recommendation, framework_id: str | None) -> str | None:
    """A framework's name, or the id itself when the knowledge base does not have it."""
    fw = result.knowledge.frameworks.get(framework_id or "")
    return fw.name if fw is not None else framework_id


def render_recommendation(result: Recommendation, top: int | None) -> None:
    out = console()
    ranking = result.ranking[:top] if top else result.ranking
    _print_headline(out, result, ranking)
    out.print(_ranking_table(result, ranking))
    same = same_for_all(result)
    for ranked in ranking[:3]:
        _print_detail(out, result, ranked, same)
    if same:
        out.print(f"\n[dim]Same for every eligible framework, so deciding nothing (dimmed above): {', '.join(same)}[/]")
    unused = [n for n, c in (ranking[0].criteria.items() if ranking else []) if not c.applicable]
    if unused:
        out.print(f"[dim]Not applicable: {', '.join(unused)}[/]")
    _print_migration(out, result)
    _print_excluded(out, result)
    out.print()
    stability = result.stability
    colour = "green" if stability.stable else "yellow"
    out.print(f"[{colour}]Stability:[/] {escape(stability.text)}")
    out.print(
        f"[dim]Knowledge as of {result.knowledge.as_of} ({result.knowledge.version}); "
        "`dlpick show FRAMEWORK` lists every fact with its source.[/]"
    )


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _print_headline(out: Any, result: Recommendation, ranking: list[Ranked]) -> None:
    answers = result.answers
    where = ", ".join(answers.hardware) or "any hardware"
    deploy = f"deploying to {', '.join(answers.deployment)}" if answers.deployment else "no deployment target given"
    out.print(f"[bold]{answers.task}[/] on {where}, {deploy} (Python {answers.python})")
    decision = result.decision
    if not ranking:
        out.print("[bold red]No framework meets every hard constraint.[/] See the exclusions below.")
    elif decision is not None:
        colour = "yellow" if decision.near_tie else "green"
        out.print(f"[bold {colour}]{escape(decision.text)}.[/]")
        if decision.hangs_on and decision.runner_up:
            out.print(f"It hangs on {escape(decision.hangs_on)}")


def _ranking_table(result: Recommendation, ranking: list[Ranked]) -> Any:
    from rich.table import Table

    table = Table(title="Ranking", title_justify="left", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("framework")
    table.add_column("score", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("against the pick")
    for place, ranked in enumerate(ranking):
        count = len(ranked.warnings)
        warn = f" [yellow]({count} warning{'s' * (count > 1)})[/]" if count else ""
        table.add_row(
            str(place + 1),
            ranked.name + warn,
            f"{ranked.score:.1f}",
            bar(ranked.score / 100, 12),
            _why_column(result, place),
        )
    return table


def _print_detail(out: Any, result: Recommendation, ranked: Ranked, same: list[str]) -> None:
    from rich.table import Table

    detail = Table(title=f"{ranked.name}: {ranked.score:.1f} / 100", title_justify="left", box=None, padding=(0, 1))
    detail.add_column("criterion")
    detail.add_column("weight", justify="right")
    detail.add_column("score", no_wrap=True)
    detail.add_column("points", justify="right")
    detail.add_column("because", overflow="fold")
    for name, criterion in ranked.criteria.items():
        if not criterion.applicable:
            continue
        points = criterion.to_json(ranked.total_weight())["points"]
        detail.add_row(
            name,
            f"{criterion.weight:g}",
            f"{bar(criterion.score, 8)} {criterion.score:4.0%}",
            f"{points:.1f}",
            escape(criterion.reason),
            style="dim" if name in same else None,
        )
    out.print()
    out.print(detail)
    for reason in ranked.reasons[1:] if ranked is result.ranking[0] else []:
        out.print(f"  [green]why:[/] {escape(reason)}")
    for warning in ranked.warnings:
        out.print(f"  [yellow]warning:[/] {escape(warning)}")


def _print_migration(out: Any, result: Recommendation) -> None:
    for move in result.decision.migration if result.decision else []:
        target = _name(result, move.target)
        out.print()
        out.print(f"[bold]Moving off {move.name}[/] (team familiarity {move.level}/5; retired since {move.since}):")
        if move.successor:
            out.print(f"  successor: {_name(result, move.successor)}")
        if move.text:
            out.print(f"  {escape(move.text)}")
        for line in move.carries_over:
            out.print(f"  carries over to {target}: {escape(line)}")


def _print_excluded(out: Any, result: Recommendation) -> None:
    from rich.table import Table

    if not result.excluded:
        return
    out.print()
    excluded = Table(title="Excluded", title_justify="left", box=None, padding=(0, 1))
    excluded.add_column("framework")
    excluded.add_column("why", overflow="fold")
    for item in result.excluded:
        excluded.add_row(item.name, escape("; ".join(item.reasons)))
    out.print(excluded)


def _fact_line(label: str, fact: Sourced, value: str) -> tuple[str, str, str]:
    return label, value, f"{fact.source} ({fact.as_of})"


def framework_rows(fw: Framework) -> list[tuple[str, str, str]]:
    """(field, value, source) rows for one framework: the facts behind every score."""
    rows = []
    release = fw.release
    rows.append(_fact_line("release", release, f"{release.version} ({release.date})"))
    status = fw.status
    status_text = status.value + (f" since {status.since}" if status.since else "")
    if status.successor:
        status_text += f"; successor {status.successor}"
    if status.migration:
        status_text += f". {status.migration}"
    rows.append(_fact_line("status", status, status_text))
    rows.append(_fact_line("python", fw.python, ", ".join(fw.python.versions)))
    for hardware, support in fw.hardware.items():
        install = f"\n$ {support.install}" if support.install else ""
        rows.append(_fact_line(f"hardware {hardware}", support, f"{support.level}: {support.mechanism}{install}"))
    for target, paths in fw.deployment.items():
        for path in paths:
            rows.append(_fact_line(f"deploy {target}", path, f"{path.level}: {path.tool}"))
    dist = fw.distributed
    rows.append(_fact_line("distributed", dist, f"{dist.level}: {', '.join(dist.tools)}"))
    for task, evidence in fw.tasks.items():
        for item in evidence:
            rows.append(_fact_line(f"task {task}", item, f"{item.kind}: {item.name}"))
    for measure, fact in fw.community.measures():
        rows.append(_fact_line(f"community {measure}", fact, f"{fact.value:,.0f}"))
    for section, items in (
        ("performance", fw.performance),
        ("ecosystem", fw.ecosystem),
        ("ease of use", fw.ease_of_use),
    ):
        for feature in items:
            rows.append(_fact_line(section, feature, f"{feature.kind}: {feature.name}"))
    return rows


def blocks(out: Console, rows: list[tuple[str, list[str], list[str]]]) -> None:
    """Label, prose lines and whole lines, one block per row: prose wraps at word boundaries (a URL or
    other long word is never split), whole lines (commands, sources) are printed unbroken, so a copy
    from the terminal gives them as they are."""
    import textwrap

    from rich.markup import escape

    width = max((len(label) for label, _, _ in rows), default=0) + 2
    room = max(20, (out.width or 80) - width)
    for label, prose, whole in rows:
        lines = [
            wrapped
            for text in prose
            for wrapped in textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False)
        ]
        first, *rest = [escape(line) for line in [*lines, *whole]] or [""]
        out.print(f"{escape(label).ljust(width)}{first}", soft_wrap=True)
        for line in rest:
            out.print(" " * width + line, soft_wrap=True)


def render_show(fw: Framework, origin: str) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"[bold]{escape(fw.name)}[/] ({fw.id}): {escape(fw.summary)}")
    installs = [f"pip: {' '.join(fw.packages)}"] if fw.packages else []
    installs += [f"{system}: {' '.join(names)}" for system, names in fw.system_packages.items()]
    out.print(f"{fw.homepage}  {'  '.join(installs)}", soft_wrap=True)
    out.print(f"[dim]from {escape(origin)}[/]", soft_wrap=True)
    out.print()
    rows = []
    for label, value, source in framework_rows(fw):
        prose, *commands = value.split("\n")
        rows.append((label, [prose], [*commands, f"source: {source}"]))
    blocks(out, rows)
    for line in fw.unverified:
        out.print(f"[yellow]not verified, left out of scoring:[/] {escape(line)}")


def render_compare(rows: list[tuple[str, list[str]]], names: list[str], sources: list[str]) -> None:
    from rich.table import Table

    out = console()
    table = Table(show_lines=True)
    table.add_column("")
    for name in names:
        table.add_column(name, overflow="fold")
    for label, cells in rows:
        table.add_row(label, *cells)
    out.print(table)
    out.print("[dim]Sources:[/]")
    for number, source in enumerate(sources, 1):
        out.print(f"[dim] [{number}] {source}[/]")
