"""Compose's `${VAR}` interpolation, .env parsing and the casts after it (compose-go's rules; the
substitution cases were run through Docker Compose v2's `docker-compose config` too)."""

from __future__ import annotations

import pytest

from pypod.compose import dotenv
from pypod.compose.errors import ComposeError, InterpolationError
from pypod.compose.interpolate import InvalidTemplate, MissingRequired, interpolate, substitute

ENV = {"SET_A": "va", "SET_A_B": "vab", "EMPTY": ""}


@pytest.mark.parametrize("template,expected", [
    ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
    ("$SET_A_B-$SET_A", "vab-va"),               # a bare name takes the longest run of name chars
    ("a$ b $1 c$", "a$ b $1 c$"),                # a `$` before anything else stays as it is
    ("${SET_A:+alt}|${EMPTY:+alt}|${UNSET:+alt}|${EMPTY+alt}", "alt|||alt"),
    ("${EMPTY?}x", "x"),                          # `?` only refuses an unset variable
    ("$$SET_A $${SET_A}", "$SET_A ${SET_A}"),
    ("${SET_A}}", "va}"),
    ("${SET_A:-a:b}-${UNSET:-a}b}", "va-ab}"),
    ("${EMPTY:-dflt}/${EMPTY-dflt}/${UNSET-dflt}", "dflt//dflt"),
    ("${UNSET}", ""),
])
def test_substitute(template, expected):
    assert substitute(template, ENV) == expected


def test_required_variables():
    with pytest.raises(MissingRequired, match="required variable EMPTY is missing a value: no way"):
        substitute("${EMPTY:?no way}", ENV)
    with pytest.raises(MissingRequired, match=r"^required variable UNSET is missing a value$"):
        substitute("${UNSET?}", ENV)
    assert substitute("${SET_A:?x}", ENV) == "va"


@pytest.mark.parametrize("template", ["${", "${ SET_A }", "${1A}", "x ${SET_A"])
def test_invalid_templates(template):
    with pytest.raises(InvalidTemplate):
        substitute(template, ENV)


def test_unset_variables_are_warned_about_once_each_use():
    warnings: list[str] = []
    substitute("$NOPE and ${NOPE}", {}, warnings.append)
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.'] * 2


def test_tree_interpolation_casts_where_compose_does():
    tree = {"services": {"web": {"init": "${T}", "deploy": {"replicas": "${N}"}, "image": "${N}",
                                 "ports": [{"target": "${N}"}]}}}
    out = interpolate(tree, {"T": "true", "N": "3"})
    web = out["services"]["web"]
    assert web["init"] is True and web["deploy"]["replicas"] == 3 and web["image"] == "3"
    assert web["ports"][0]["target"] == 3
    assert tree["services"]["web"]["init"] == "${T}"  # the input is left alone


def test_tree_errors_name_the_key():
    with pytest.raises(InterpolationError) as e:
        interpolate({"services": {"web": {"environment": ["A=${X:?set X}"]}}}, {})
    assert e.value.message == ("error while interpolating services.web.environment[0]: "
                               "required variable X is missing a value: set X")
    with pytest.raises(InterpolationError, match="services.web.init: failed to cast to expected type: "
                                                 "invalid boolean: maybe"):
        interpolate({"services": {"web": {"init": "maybe"}}}, {})
    assert e.value.exit_code == 1


def test_dotenv_syntax():
    text = ("# comment\nA=1\nexport B=two\nC=\"quoted # not a comment\"\nD='$A literal'\n"
            "E=x # inline comment\nF=${A}-${HOST_ONLY}\nG=\"line\\nbreak\"\nH\nI=\"multi\nline\"\n\nJ = spaced \n")
    got = dotenv.parse(text, {"HOST_ONLY": "h", "H": "from-host"}.get)
    assert got == {"A": "1", "B": "two", "C": "quoted # not a comment", "D": "$A literal", "E": "x",
                   "F": "1-h", "G": "line\nbreak", "H": "from-host", "I": "multi\nline", "J": "spaced"}


def test_dotenv_bare_key_without_a_value_is_left_out():
    assert dotenv.parse("NOPE\nA=1\n", lambda k: None) == {"A": "1"}


def test_dotenv_refuses_garbage():
    with pytest.raises(ComposeError, match="line 2"):
        dotenv.parse("A=1\n-bad\n", lambda k: None)
