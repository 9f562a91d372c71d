"""Containerfile parsing: continuations, escape directive, comments, heredocs, forms, ARG scoping."""

from __future__ import annotations

import pytest

from pypod.image.build import parser
from pypod.image.build.parser import ParseError, expand, key_values, parse, words


def test_continuations_comments_and_lines():
    cf = parse("# a comment\nFROM busybox\nRUN echo a \\\n  # inside\n\n    && echo b\nCMD [\"sh\"]\n")
    st = cf.stages[0]
    run, cmd = st.instructions
    assert run.cmd == "RUN" and run.rest == "echo a     && echo b" and run.line == 3
    assert cmd.line == 7 and cmd.json_args() == ["sh"]
    assert run.json_args() is None


def test_escape_directive_backtick():
    cf = parse("# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo x\n")
    assert cf.escape == "`"
    assert cf.stages[0].instructions[0].rest == "dir c:\\   && echo x"
    with pytest.raises(ParseError):
        parse("# escape=x\nFROM busybox\n")


def test_directive_only_at_top():
    cf = parse("FROM busybox\n# escape=`\nRUN a \\\n b\n")
    assert cf.escape == "\\" and cf.stages[0].instructions[0].rest == "a  b"


def test_stages_meta_args_and_flags():
    cf = parse("ARG V=1\nFROM --platform=linux/amd64 busybox:$V AS Build\nCOPY --from=build --chown=1:2 a b\n"
               "FROM scratch\n")
    assert [a.rest for a in cf.meta_args] == ["V=1"]
    s0, s1 = cf.stages
    assert s0.name == "build" and s0.platform == "linux/amd64" and s0.base == "busybox:$V"
    assert s0.instructions[0].flags == {"from": "build", "chown": "1:2"}
    assert s1.base == "scratch" and s1.index == 1


def test_errors():
    with pytest.raises(ParseError, match="Unknown instruction: \"FOO\""):
        parse("FROM busybox\nFOO bar\n")
    with pytest.raises(ParseError, match="no FROM"):
        parse("RUN true\n")
    with pytest.raises(ParseError):
        parse("")


def test_heredocs():
    cf = parse("FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-\"X\" /f\n\thello $H\n\tX\nCMD x\n")
    run, copy, cmd = cf.stages[0].instructions
    assert run.heredocs[0].content == "echo one\necho two\n" and run.heredocs[0].expand
    assert copy.heredocs[0].content == "hello $H\n" and not copy.heredocs[0].expand
    assert cmd.rest == "x"
    with pytest.raises(ParseError, match="unterminated"):
        parse("FROM b\nRUN <<EOF\necho\n")


def test_expand():
    env = {"A": "x", "E": ""}
    assert expand("$A ${A} ${B:-d} ${E:-e} ${E-e} ${A:+y} ${B:+y}|", env) == "x x d e  y |"
    assert expand("\\$A '$A' \"$A\"", env) == "$A '$A' \"x\""


def test_words_and_key_values():
    assert words('a "b c" d\\ e \'f g\'') == ["a", "b c", "d e", "f g"]
    assert key_values('X=1 Y="two words"', "ENV") == [("X", "1"), ("Y", "two words")]
    assert key_values("X legacy  value", "ENV") == [("X", "legacy value")]
    with pytest.raises(ParseError):
        key_values("X=1 Y", "ENV")
    assert parser.arg_spec("A B=2") == [("A", None), ("B", "2")]


def test_stage_selection_follows_from_and_copy_from(tmp_path):
    from pypod.engine.build import Builder, find_containerfile

    cf = parse("ARG B=base\nFROM $B AS a\nFROM scratch AS unused\nFROM a AS b\nCOPY --from=0 /x /x\n"
               "FROM busybox AS c\nCOPY --from=b /y /y\n")
    b = Builder.__new__(Builder)
    b.meta = {"B": "base"}
    assert b._needed(cf, 3) == [0, 2, 3]
    assert b._needed(cf, 1) == [1]
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    assert find_containerfile(str(tmp_path), None).endswith("/Dockerfile")
    (tmp_path / "Containerfile").write_text("FROM x\n")
    assert find_containerfile(str(tmp_path), None).endswith("/Containerfile")
    with pytest.raises(Exception, match="no such file"):
        find_containerfile(str(tmp_path / "nope"), None)
