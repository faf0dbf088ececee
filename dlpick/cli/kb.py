"""`dlpick kb ...`: check and describe the knowledge base (validate, audit, schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlpick.cli.options import JsonOpt
from dlpick.errors import FindingsOpen

kb_app = typer.Typer(help="Check and describe the knowledge base.", no_args_is_help=True)


@kb_app.command("validate")
def validate(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="A team's knowledge folder, checked as an overlay on the built-in one.", show_default=False
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every knowledge file; report each problem as file:line: field: message.

    Examples:

      dlpick kb validate
      dlpick kb validate my-knowledge/ --json
    """
    from dlpick.cli import output
    from dlpick.errors import BadInput
    from dlpick.kb import knowledge

    dirs = knowledge.knowledge_dirs(directory)
    kb, problems = knowledge.validate_dirs(dirs)
    facts = len(knowledge.fact_dates([fw.to_json() for fw in kb.frameworks.values()])) if kb else 0
    if as_json:
        output.print_json(
            {
                "valid": not problems,
                "problems": problems,
                "frameworks": sorted(kb.frameworks) if kb else [],
                "facts": facts,
            }
        )
    elif problems:
        for problem in problems:
            output.stderr_line(problem)
    else:
        output.note(f"ok: {len(kb.frameworks) if kb else 0} frameworks, {facts} sourced facts")
    if problems:
        raise BadInput(f"{len(problems)} problem(s) in {', '.join(str(d) for d in dirs)}")


@kb_app.command("audit")
def audit(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="A team's knowledge folder, audited as an overlay on the built-in one.", show_default=False
        ),
    ] = None,
    older_than: Annotated[
        int, typer.Option("--older-than", metavar="DAYS", help="Report facts whose as_of is older than this.")
    ] = 365,
    as_json: JsonOpt = False,
) -> None:
    """List what needs a maintainer: stale facts, dormant libraries, levels their notes contradict.

    Findings: facts checked more than DAYS ago; libraries (evidence, deployment paths,
    library features, hardware plugins) whose newest release (registry-snapshot.yaml, or
    a last_release fact) breaks the two-year dormant rule against their status;
    official/vendor/primary paths whose note speaks of a legacy path or a preview;
    items without a source page; one library with two kinds or statuses; install pins
    older than the release; versions and wheel-platform claims in notes that the
    snapshot contradicts; a snapshot older than 60 days. A finding that is true and explained is
    acknowledged in audit-ack.yaml (finding, reason, until). Exit status 0 when every
    finding is acknowledged, 1 when not.

    Examples:

      dlpick kb audit
      dlpick kb audit --older-than 180 --json
      dlpick kb audit my-knowledge/
    """
    from dlpick.cli import output
    from dlpick.errors import KnowledgeError
    from dlpick.kb import audit as audit_mod
    from dlpick.kb import knowledge

    dirs = knowledge.knowledge_dirs(directory)
    kb, problems = knowledge.validate_dirs(dirs)
    if problems or kb is None:
        raise KnowledgeError(problems)
    result = audit_mod.run(kb.frameworks, dirs, kb.adoption, older_than=older_than)
    if as_json:
        output.print_json(result.to_json())
    else:
        typer.echo("\n".join(result.lines()))
    if result.open:
        raise FindingsOpen(f"{len(result.open)} finding(s) not acknowledged (see audit-ack.yaml)")


@kb_app.command("schema")
def schema(
    which: Annotated[
        str, typer.Argument(help="framework (a frameworks/*.yaml file), criteria or vocabulary.")
    ] = "framework",
) -> None:
    """Print the JSON schema of a knowledge file, for editors that check YAML.

    Example:

      dlpick kb schema > framework.schema.json
    """
    from dlpick.cli import output
    from dlpick.kb import schema as schema_mod
    from dlpick.kb.vocab import check_id

    models: dict[str, type[schema_mod.Strict]] = {
        "framework": schema_mod.Framework,
        "criteria": schema_mod.Criteria,
        "vocabulary": schema_mod.Vocabulary,
    }
    check_id("schema", which, models)
    output.print_json(models[which].model_json_schema())
