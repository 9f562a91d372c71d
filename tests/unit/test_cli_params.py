"""The lean command-line parser: cobra's flag syntax over typer-style declarations."""

from typing import List, Optional

import pytest

from pypod.cli.params import Arg, Command, HelpRequested, Opt, UsageError, parse


def images(name: Optional[str] = Arg(None, metavar="[IMAGE]"),
           all_: bool = Opt(False, "--all", "-a"),
           quiet: bool = Opt(False, "--quiet", "-q"),
           filters: List[str] = Opt([], "--filter", "-f"),
           fmt: Optional[str] = Opt(None, "--format"),
           last: int = Opt(-1, "--last", "-n"),
           tls: Optional[str] = Opt(None, "--tls-verify", flag_value="true")):
    pass


def run(image: str = Arg(..., metavar="IMAGE"), command: Optional[List[str]] = Arg(None),
        rm: bool = Opt(False, "--rm"), interactive: bool = Opt(False, "--interactive", "-i"),
        tty: bool = Opt(False, "--tty", "-t"), env: List[str] = Opt([], "--env", "-e"),
        hostname: Optional[str] = Opt(None, "--hostname", "-h")):
    pass


IMAGES = Command("images", images, None, False, True, ("-h", "--help"))
RUN = Command("run", run, None, False, False, ("--help",))


def test_flags_values_and_lists():
    v = parse(IMAGES, ["-aq", "--filter", "dangling=true", "-f=label=x", "--format={{.ID}}", "-n5", "busybox"], "p")
    assert v == {"name": "busybox", "all_": True, "quiet": True, "filters": ["dangling=true", "label=x"],
                 "fmt": "{{.ID}}", "last": 5, "tls": None}


def test_bool_with_explicit_value_and_optional_value_flags():
    v = parse(IMAGES, ["--all=false", "--tls-verify"], "p")
    assert v["all_"] is False and v["tls"] == "true"
    assert parse(IMAGES, ["--tls-verify=false"], "p")["tls"] == "false"


def test_errors_are_podmans():
    with pytest.raises(UsageError, match="unknown flag: --nope"):
        parse(IMAGES, ["--nope"], "p")
    with pytest.raises(UsageError, match="unknown shorthand flag: 'z' in -az"):
        parse(IMAGES, ["-az"], "p")
    with pytest.raises(UsageError, match="flag needs an argument: --format"):
        parse(IMAGES, ["--format"], "p")
    with pytest.raises(UsageError, match='invalid argument "x" for "-n" flag'):
        parse(IMAGES, ["-n", "x"], "p")
    with pytest.raises(UsageError, match="accepts at most 1 arg"):
        parse(IMAGES, ["a", "b"], "p")
    with pytest.raises(UsageError, match="requires at least 1 arg"):
        parse(RUN, ["--rm"], "p")
    with pytest.raises(HelpRequested):
        parse(IMAGES, ["--help"], "p")


def test_run_stops_at_the_image():
    v = parse(RUN, ["--rm", "-it", "-e", "A=1", "-h", "box", "busybox", "sh", "-c", "echo --rm -h"], "p")
    assert v["rm"] and v["interactive"] and v["tty"] and v["env"] == ["A=1"] and v["hostname"] == "box"
    assert v["image"] == "busybox" and v["command"] == ["sh", "-c", "echo --rm -h"]
    assert parse(RUN, ["busybox"], "p")["command"] is None
    assert parse(RUN, ["--", "busybox", "-x"], "p")["command"] == ["-x"]
