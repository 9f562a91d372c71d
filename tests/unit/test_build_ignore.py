""".dockerignore semantics (moby patternmatcher): `*`, `**`, `!`, last match wins, parent dirs."""

from __future__ import annotations

from pypod.image.build.ignore import Matcher, parse_ignore


def m(text: str) -> Matcher:
    return Matcher(parse_ignore(text))


def test_basic_patterns():
    x = m("# comment\n*.log\n/secret.txt\nbuild/\n")
    assert x.excluded("a.log") and not x.excluded("dir/a.log")  # * stays in one component
    assert x.excluded("secret.txt") and x.excluded("build/out/x.o")
    assert not x.excluded("src/main.c")


def test_double_star_and_exceptions():
    x = m("**/*.tmp\n!keep/**/*.tmp\nnode_modules\n")
    assert x.excluded("a.tmp") and x.excluded("d/e/f.tmp")
    assert not x.excluded("keep/x/y.tmp") and not x.excluded("keep/y.tmp")
    assert x.excluded("node_modules/pkg/index.js")


def test_last_match_wins():
    x = m("*.md\n!README.md\n")
    assert x.excluded("NOTES.md") and not x.excluded("README.md")
    y = m("!README.md\n*.md\n")
    assert y.excluded("README.md")


def test_excluded_dir_may_hold_exceptions():
    x = m("docs\n!docs/keep.txt\n")
    assert x.excluded("docs/other.txt") and not x.excluded("docs/keep.txt")
    assert x.may_contain_included("docs")
    assert not m("docs\n").may_contain_included("docs")


def test_question_mark_and_classes():
    x = m("file?.txt\n[ab].c\n")
    assert x.excluded("file1.txt") and not x.excluded("file10.txt")
    assert x.excluded("a.c") and not x.excluded("c.c")
