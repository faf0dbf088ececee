"""The decision record reads as an ADR a team wrote (MADR): Date and Deciders fields, drivers, options,
an outcome, consequences and risks with content, a short list of the sources the decision rests on, every
fact in an appendix, and nothing a reader would have to type into a terminal."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, framework
from typer.testing import CliRunner

from dlpick.advise import answers, report, scoring
from dlpick.cli.app import app
from dlpick.kb import knowledge

PROFILES = sorted((ROOT / "examples" / "profiles").glob("*.yaml"))
URL = re.compile(r"https?://\S+")


def recommendation(path: Path) -> scoring.Recommendation:
    kb = knowledge.load()
    raw = yaml.safe_load(path.read_text())
    raw.setdefault("python", "3.11")  # pinned: every framework's facts are then the same on any Python
    return scoring.recommend(answers.normalise(raw, kb.vocabulary), kb)


@pytest.fixture(scope="module")
def team() -> scoring.Recommendation:
    return recommendation(ROOT / "examples" / "team.yaml")


def section(text: str, heading: str) -> str:
    """The body of a `## heading` section of the Markdown record."""
    assert f"\n## {heading}\n" in text, heading
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def bullets(body: str) -> list[str]:
    return re.findall(r"^- (.+)$", body, re.M)


class Page(HTMLParser):
    """The visible text of a page, and each element with the open elements around it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.elements: list[tuple[str, dict[str, str], list[tuple[str, dict[str, str]]]]] = []
        self._skip = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes, list(self.stack)))
        if tag not in ("meta", "br", "rect", "line"):
            self.stack.append((tag, attributes))
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag == tag:
                break
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)

    def visible(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text))


def test_the_record_has_date_and_deciders_fields(team: scoring.Recommendation) -> None:
    text = report.render(team, "markdown", today="2026-12-01")
    head = text.split("\n## ", 1)[0]
    assert "- Date: 2026-12-01" in head and "- Status: proposed" in head
    assert "- Deciders: _(names)_" in head, "an empty Deciders field is a visible placeholder the team fills"
    assert "- Deciders: vision\n" in report.render(team, "markdown", deciders="vision")
    page = Page(report.render(team, "html", today="2026-12-01")).visible()
    assert "Date 2026-12-01" in page and "Deciders (names)" in page
    assert "Deciders vision" in Page(report.render(team, "html", deciders="vision")).visible()


def test_the_profiles_team_fills_deciders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = {"team": "vision", "answers": {"task": "image-classification", "hardware": ["cpu"]}}
    (tmp_path / "dlpick.yaml").write_text(yaml.safe_dump(profile))
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["recommend", "--no-input", "--report", "decision.md"])
    assert done.exit_code == 0, done.output
    assert "\n- Deciders: vision\n" in (tmp_path / "decision.md").read_text()


@pytest.mark.parametrize(
    "name", ["team", "19-keras-team-nvidia-android", "28-mxnet-team-forecasting", "29-mxnet-team-ranks-retired"]
)
def test_risks_and_consequences_have_content(name: str) -> None:
    path = ROOT / "examples" / ("team.yaml" if name == "team" else f"profiles/{name}.yaml")
    result = recommendation(path)
    text = report.render_markdown(result)
    top, runner = result.ranking[0], result.ranking[1]
    risks = bullets(section(text, "Risks"))
    # Said even when the pick has no warnings: its warnings, whether it is a near tie, its maintenance
    # (with the facts it rests on) and how old the facts are.
    assert result.decision is not None
    tie = "Near tie:" if result.decision.near_tie else "Not a near tie:"
    assert any(line.startswith(tie) and runner.name in line for line in risks)
    assert any(line.startswith(f"Maintenance: {top.name} is ") and re.search(r"\[\d+\]", line) for line in risks)
    assert any(line.startswith(f"Knowledge age: the facts are as of {result.knowledge.as_of}") for line in risks)
    for warning in top.warnings:
        assert any(warning in line for line in risks), warning
    consequences = section(text, "Consequences")
    good = bullets(consequences.split("\nGood:\n", 1)[1].split("\nBad:\n", 1)[0])
    bad = bullets(consequences.split("\nBad:\n", 1)[1].split("\n### ", 1)[0])
    assert len(good) >= 2 and bad, consequences
    assert any(line.startswith(f"{top.name} is actively maintained") for line in good)


def test_no_eligible_framework_still_has_risks(synthetic_kb) -> None:
    gone = {"value": "retired", "since": "2020-01-01", "source": "https://example.org/old", "as_of": "2024-01-01"}
    kb = synthetic_kb(framework("old", status=gone))
    result = scoring.recommend(answers.Answers(task="image-classification"), kb)
    assert bullets(section(report.render_markdown(result), "Risks"))


@pytest.mark.parametrize("path", [*PROFILES, ROOT / "examples" / "team.yaml"], ids=lambda p: p.stem[:2])
def test_no_commands_or_flags_in_the_record(path: Path) -> None:
    """A record is pasted into a wiki: it tells no one to run a command or pass a flag."""
    result = recommendation(path)
    for text in (report.render_markdown(result), Page(report.render_html(result)).visible()):
        assert not re.search(r"\bdlpick [a-z]", text), re.search(r".{40}\bdlpick [a-z].{40}", text)
        assert not re.search(r"(?<![\w-])--[a-z]", text), re.search(r".{40}(?<![\w-])--[a-z].{40}", text)


def test_sources_are_the_cited_facts_and_the_appendix_holds_all(team: scoring.Recommendation) -> None:
    text = report.render_markdown(team)
    assert text.rstrip().split("\n## ")[-1].startswith("Appendix: all facts\n"), "the appendix is last"
    appendix = dict(re.findall(r"^(\d+)\. (.+) \(source: .+\)$", section(text, "Appendix: all facts"), re.M))
    sources = re.findall(r"^(\d+)\. (.+)$", section(text, "Sources the decision rests on"), re.M)
    assert 0 < len(sources) < len(appendix) / 4, "a short list, the rest in the appendix"
    for number, entry in sources:
        assert entry.startswith(appendix[number].split(" (source:", 1)[0]), "a source is the appendix's fact"
        # Each can be opened (a page's URL) or says what it is; none is only a name like "registry snapshot".
        assert URL.search(entry) or re.search(r"\w+ \w+ \w+ as of \d{4}-\d\d-\d\d", entry), entry
    assert "registry snapshot" not in text
    # A download rank from the registry snapshot links the package's PyPI page.
    assert re.search(r"^\d+\. PyTorch: PyPI download rank 330\. .*<https://pypi\.org/project/torch/>", text, re.M)
    # The sources are the facts the outcome and the risks cite.
    cited = re.findall(r"\[(\d+)\]", section(text, "Decision outcome") + section(text, "Risks"))
    assert {int(n) for n in cited} == {int(n) for n, _ in sources}
    assert list(map(int, appendix)) == list(range(1, len(appendix) + 1))


def test_html_sources_link_and_the_appendix_is_collapsed(team: scoring.Recommendation) -> None:
    page = Page(report.render_html(team))
    facts = report.context(team)["facts"]
    items = [
        (attrs, around) for tag, attrs, around in page.elements if tag == "li" and ("ol", {"class": "facts"}) in around
    ]
    in_appendix = [attrs for attrs, around in items if any(tag == "details" for tag, _ in around)]
    listed = [attrs for attrs, around in items if not any(tag == "details" for tag, _ in around)]
    assert len(in_appendix) == len(facts) and 0 < len(listed) < len(facts)
    assert not [a for tag, a, _ in page.elements if tag == "details" and "open" in a], "the appendix starts collapsed"
    # Each fact has one anchor the [n] references lead to: in the sources list when cited, else in the appendix.
    ids = [a["id"] for tag, a, _ in page.elements if a.get("id", "").startswith("fact-")]
    assert sorted(ids) == sorted(f"fact-{n}" for n in range(1, len(facts) + 1))
    # Every listed source has a link a reader can open.
    links = [
        (around, a["href"]) for tag, a, around in page.elements if tag == "a" and a.get("href", "").startswith("http")
    ]
    for attrs in listed:
        assert any(("li", attrs) in around for around, _ in links), attrs
