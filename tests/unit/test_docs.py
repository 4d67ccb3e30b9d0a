"""The README and docs stand alone: every relative link resolves inside the repository.

A clone holds only this repository, so a link to a file beside it (a design note in a
parent folder, an absolute path on someone's machine) is a dead link for every user.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    p
    for p in ROOT.rglob("*.md")
    if not ({".venv", ".git", "node_modules", "build", "dist"} & set(p.relative_to(ROOT).parts))
)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_PATH = re.compile(r"`([\w./-]+\.(?:md|py|yaml|yml|toml|json))`")
_MD_NAME = re.compile(r"(?<![\w/.-])([\w-]+\.md)\b")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    return _FENCE.sub("", text)


def _anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        for heading in _HEADING.findall(_prose(text))
    }


def _found(target: Path) -> bool:
    return target.resolve().is_relative_to(ROOT) and target.exists()


def _problems(doc: Path, text: str) -> list[str]:
    """What is wrong with the links of ``text``, a Markdown file that lives at ``doc``."""
    prose = _prose(text)
    problems: list[str] = []
    for target in _LINK.findall(prose):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        name, _, anchor = target.partition("#")
        resolved = doc.parent / name
        if name.startswith("/"):
            problems.append(f"{target}: an absolute path exists only on one machine")
        elif name and not resolved.resolve().is_relative_to(ROOT):
            problems.append(f"{target}: points outside the repository")
        elif name and not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and (name == "" or resolved.suffix == ".md"):
            headings = _anchors(resolved.read_text(encoding="utf-8") if name else text)
            if anchor not in headings:
                problems.append(f"{target}: no heading #{anchor} in {name or doc.name}")
    for mention in _CODE_PATH.findall(prose):
        if "/" not in mention:  # a bare file name (`pyproject.toml`) names no place
            continue
        if not (_found(doc.parent / mention) or _found(ROOT / mention)):
            problems.append(f"`{mention}`: names a file that is not in the repository")
    # A page named in running text (not in code, where it may be an output file): "see
    # DESIGN.md" sends a reader to a file the clone must hold.
    running = re.sub(r"`[^`]*`|\]\([^)]*\)", "", prose)
    for name in sorted(set(_MD_NAME.findall(running))):
        if not (_found(doc.parent / name) or _found(ROOT / name)):
            problems.append(f"{name}: names a page that is not in the repository")
    if "../shared" in prose or "/work/" in prose:
        problems.append("mentions a folder outside the repository")
    return problems


def test_the_docs_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in DOCS}
    assert {"README.md", "docs/design.md", "benchmarks/README.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    assert _problems(doc, doc.read_text(encoding="utf-8")) == []


def test_the_readme_links_the_design_page() -> None:
    assert "(docs/design.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_dead_or_escaping_link_is_caught() -> None:
    text = (
        "# Probe\n"
        "[a](../../shared/DESIGN.md) [b](missing.md) [c](design.md#no-such-heading)\n"
        "[d](/etc/passwd) [e](https://example.com) [f](design.md#errors) [g](#probe)\n"
        "[h](#elsewhere) see `docs/nope.md` and `../shared/STYLE.md` and DESIGN.md\n"
        "```\n[i](inside-code-is-not-a-link.md)\n```\n"
    )
    assert _problems(ROOT / "docs" / "probe.md", text) == [
        "../../shared/DESIGN.md: points outside the repository",
        "missing.md: no such file",
        "design.md#no-such-heading: no heading #no-such-heading in design.md",
        "/etc/passwd: an absolute path exists only on one machine",
        "#elsewhere: no heading #elsewhere in probe.md",
        "`docs/nope.md`: names a file that is not in the repository",
        "`../shared/STYLE.md`: names a file that is not in the repository",
        "DESIGN.md: names a page that is not in the repository",
        "mentions a folder outside the repository",
    ]


def test_docstrings_and_messages_name_only_pages_that_exist() -> None:
    """Help texts and error messages that send a user to a page must name a real one."""
    named: set[str] = set()
    for folder in ("src", "benchmarks", "examples"):
        for source in (ROOT / folder).rglob("*.py"):
            text = source.read_text(encoding="utf-8")
            named |= set(re.findall(r"docs/[\w-]+\.md", text))
            assert "../shared" not in text, source
    assert named  # the modules do point at their pages
    assert sorted(n for n in named if not (ROOT / n).is_file()) == []
