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


def test_excluded_dir_is_looked_into_only_for_a_literal_exception_below_it():
    # buildah (#3486), which podman's 070-build checks: `!*/sub1*` re-includes subdir1/sub1 because
    # `!subdir1/sub3*` opens subdir1, but nothing opens subdir2, so subdir2/sub1 stays out
    x = m("test*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n")
    assert x.may_contain_included("subdir1") and not x.may_contain_included("subdir2")
    assert not x.excluded("subdir1/sub1") and x.excluded("subdir1/sub2") and not x.excluded("subdir1/sub3.txt")
