"""Unit tests for pypod.template: the Go text/template subset behind --format.

Expected outputs are what Go's text/template (with podman's containers/common
pkg/report functions and tabwriter settings) prints for the same data.
"""

from __future__ import annotations

import dataclasses

import pytest

from pypod.template import (
    Template,
    TemplateError,
    format_table,
    is_table,
    normalize_format,
    render,
    render_rows,
    tabwrite,
)


# ---------------------------------------------------------------------------
# fields, dot, missing keys

CTR = {
    "ID": "abc123",
    "Names": ["web", "db"],
    "State": {"Status": "running", "Running": True, "Pid": 42, "ExitCode": 0},
    "Config": {"Labels": {"foo": "bar", "a.b": "dotted"}, "Env": ["A=1", "B=2"], "Cmd": None},
    "Size": 1024,
}


@pytest.mark.parametrize(
    "tmpl, want",
    [
        ("plain text", "plain text"),
        ("", ""),
        ("{{.ID}}", "abc123"),
        ("id={{.ID}}!", "id=abc123!"),
        ("{{.State.Status}}", "running"),
        ("{{.State.Running}}", "true"),
        ("{{.State.Pid}}", "42"),
        ("{{.Config.Labels.foo}}", "bar"),
        ("{{.Names}}", "[web db]"),
        ("{{.Config.Env}}", "[A=1 B=2]"),
        ("{{.Config.Labels}}", "map[a.b:dotted foo:bar]"),
        ("{{ .ID }}", "abc123"),
        ("{{.ID}}{{.ID}}", "abc123abc123"),
    ],
)
def test_field_chains(tmpl, want):
    assert render(tmpl, CTR) == want


def test_dot_is_the_data():
    assert render("{{.}}", "hello") == "hello"
    assert render("{{.}}", 7) == "7"
    assert render("{{.}}", [1, "a", True]) == "[1 a true]"
    assert render("{{.}}", {"b": 2, "a": 1}) == "map[a:1 b:2]"


def test_missing_map_key_prints_no_value():
    assert render("{{.Nope}}", CTR) == "<no value>"
    assert render("{{.State.Nope}}", CTR) == "<no value>"
    # a chain through a missing key stays missing, like Go
    assert render("{{.Nope.Deeper.Still}}", CTR) == "<no value>"
    assert render("{{.Config.Labels.missing}}", CTR) == "<no value>"


def test_explicit_none_prints_no_value():
    assert render("{{.Config.Cmd}}", CTR) == "<no value>"
    assert render("{{.}}", None) == "<no value>"


def test_field_on_non_mapping_is_an_error():
    with pytest.raises(TemplateError, match=r"can't evaluate field Foo in type int"):
        render("{{.State.Pid.Foo}}", CTR)
    with pytest.raises(TemplateError, match=r"can't evaluate field X in type string"):
        render("{{.ID.X}}", CTR)
    with pytest.raises(TemplateError, match=r"can't evaluate field X in type \[\]interface \{\}"):
        render("{{.Names.X}}", CTR)
    with pytest.raises(TemplateError, match=r"nil pointer evaluating"):
        render("{{.Config.Cmd.X}}", CTR)


def test_execution_error_message_looks_like_go():
    with pytest.raises(TemplateError) as ei:
        render("{{.ID}} {{.State.Pid.Foo}}", CTR)
    msg = str(ei.value)
    assert msg.startswith('template: format:1:10: executing "format" at <.State.Pid.Foo>: ')
    assert "\n" not in msg


def test_template_error_is_a_value_error():
    assert issubclass(TemplateError, ValueError)


class Obj:
    def __init__(self):
        self.Name = "obj"
        self.Inner = {"k": "v"}
        self._private = "hidden"

    def Greet(self, who="world"):
        return "hello " + who

    @property
    def Upper(self):
        return self.Name.upper()


@dataclasses.dataclass
class Port:
    HostPort: int
    Proto: str


def test_attributes_and_methods():
    o = Obj()
    assert render("{{.Name}} {{.Inner.k}} {{.Upper}}", o) == "obj v OBJ"
    assert render("{{.Greet}}", o) == "hello world"
    assert render('{{.Greet "bob"}}', o) == "hello bob"
    assert render('{{"pipe" | .Greet}}', o) == "hello pipe"
    assert render("{{.Missing}}", {"x": o}) == "<no value>"
    with pytest.raises(TemplateError, match="can't evaluate field _private"):
        render("{{._private}}", o)
    with pytest.raises(TemplateError, match="can't evaluate field Nope in type Obj"):
        render("{{.Nope}}", o)


def test_dict_key_wins_over_attribute():
    class D(dict):
        items_attr = "attr"

    assert render("{{.items_attr}}", D(items_attr="key")) == "key"


def test_dataclass_values():
    p = Port(8080, "tcp")
    assert render("{{.HostPort}}/{{.Proto}}", p) == "8080/tcp"
    assert render("{{.}}", p) == "{8080 tcp}"
    assert render("{{printf \"%+v\" .}}", p) == "{HostPort:8080 Proto:tcp}"
    assert render("{{json .}}", p) == '{"HostPort":8080,"Proto":"tcp"}'


# ---------------------------------------------------------------------------
# variables


def test_variables():
    assert render("{{$x := .ID}}[{{$x}}]", CTR) == "[abc123]"
    assert render("{{$x := 1}}{{$x = 2}}{{$x}}", None) == "2"
    assert render("{{$.ID}}", CTR) == "abc123"
    assert render("{{$}}", 5) == "5"
    assert render("{{with .State}}{{$.ID}}:{{.Status}}{{end}}", CTR) == "abc123:running"
    assert render("{{$s := .State}}{{$s.Status}}", CTR) == "running"


def test_variable_scope_ends_with_control_structure():
    with pytest.raises(TemplateError, match=r'undefined variable "\$x"'):
        Template("{{if true}}{{$x := 1}}{{end}}{{$x}}")
    # but a top-level declaration persists to the end of the template
    assert render("{{$x := 3}}{{if true}}{{$x}}{{end}}", None) == "3"


def test_undefined_variable_is_a_parse_error():
    with pytest.raises(TemplateError, match=r'template: format:1: undefined variable "\$nope"'):
        Template("{{$nope}}")


# ---------------------------------------------------------------------------
# range


def test_range_list():
    assert render("{{range .Names}}<{{.}}>{{end}}", CTR) == "<web><db>"
    assert render("{{range $e := .Names}}{{$e}};{{end}}", CTR) == "web;db;"
    assert render("{{range $i, $e := .Names}}{{$i}}={{$e}} {{end}}", CTR) == "0=web 1=db "


def test_range_map_sorted_keys():
    data = {"Labels": {"zeta": "1", "alpha": "2", "mid": "3"}}
    assert render("{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}", data) == "alpha=2,mid=3,zeta=1,"
    # one variable gets the value, dot is the value
    assert render("{{range $v := .Labels}}{{$v}}{{end}}", data) == "231"
    assert render("{{range .Labels}}{{.}}{{end}}", data) == "231"
    assert render("{{range $k, $v := .}}{{$k}}{{end}}", {2: "b", 10: "c", 1: "a"}) == "1210"


def test_range_else_and_empty():
    assert render("{{range .}}x{{else}}empty{{end}}", []) == "empty"
    assert render("{{range .}}x{{else}}empty{{end}}", {}) == "empty"
    assert render("{{range .Nope}}x{{else}}none{{end}}", {}) == "none"
    assert render("{{range .}}x{{else}}nil{{end}}", None) == "nil"
    assert render("{{range .}}x{{end}}", []) == ""


def test_range_int_break_continue():
    assert render("{{range 3}}{{.}}{{end}}", None) == "012"
    t = "{{range .}}{{if eq . 3}}{{break}}{{end}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}"
    assert render(t, [0, 1, 2, 3, 4]) == "02"


def test_range_over_scalar_is_an_error():
    with pytest.raises(TemplateError, match="range can't iterate over hello"):
        render("{{range .}}{{end}}", "hello")


def test_nested_range_and_outer_variable():
    data = {"Nets": {"b": {"IP": "10.0.0.2"}, "a": {"IP": "10.0.0.1"}}, "Name": "c1"}
    t = "{{range $n, $v := .Nets}}{{$.Name}}/{{$n}}={{$v.IP}} {{end}}"
    assert render(t, data) == "c1/a=10.0.0.1 c1/b=10.0.0.2 "


def test_break_outside_range_is_a_parse_error():
    with pytest.raises(TemplateError, match=r"\{\{break\}\} outside \{\{range\}\}"):
        Template("{{break}}")


# ---------------------------------------------------------------------------
# if / with / truthiness


@pytest.mark.parametrize(
    "value, truth",
    [
        (True, True), (False, False), (0, False), (1, True), (-1, True), (0.0, False), (0.5, True),
        ("", False), ("x", True), ([], False), ([0], True), ({}, False), ({"a": 1}, True),
        (None, False), (Obj(), True),
    ],
)
def test_truthiness(value, truth):
    assert render("{{if .}}T{{else}}F{{end}}", value) == ("T" if truth else "F")


def test_if_else_if_chain():
    t = "{{if eq .A 1}}one{{else if eq .A 2}}two{{else if eq .A 3}}three{{else}}other{{end}}"
    assert [render(t, {"A": a}) for a in (1, 2, 3, 4)] == ["one", "two", "three", "other"]
    assert render("{{if .Missing}}yes{{end}}", {}) == ""
    assert render("{{if and .A .B}}both{{else}}not{{end}}", {"A": 1, "B": ""}) == "not"


def test_with():
    assert render("{{with .State}}{{.Status}}{{end}}", CTR) == "running"
    assert render("{{with .Nope}}x{{else}}none{{end}}", CTR) == "none"
    assert render("{{with $s := .State.Status}}{{$s}}{{end}}", CTR) == "running"
    assert render("{{with .A}}a{{else with .B}}b={{.}}{{else}}c{{end}}", {"B": 2}) == "b=2"


# ---------------------------------------------------------------------------
# pipelines and parentheses


def test_pipelines():
    assert render("{{.ID | upper}}", CTR) == "ABC123"
    assert render("{{.ID | upper | lower}}", CTR) == "abc123"
    assert render('{{json .Config.Labels | printf "%s"}}', CTR) == '{"foo":"bar","a.b":"dotted"}'
    assert render('{{"," | join .Names}}', CTR) == "web,db"  # the piped value is the last argument
    assert render('{{"x" | printf "%s-%s" "a"}}', None) == "a-x"


def test_parenthesised_arguments():
    assert render('{{upper (index .Config.Labels "foo")}}', CTR) == "BAR"
    assert render("{{(index .Names 1)}}", CTR) == "db"
    assert render('{{(index . "a").B}}', {"a": {"B": "deep"}}) == "deep"
    assert render("{{len (split .X \",\")}}", {"X": "a,b,c"}) == "3"


def test_argument_to_non_function_is_an_error():
    with pytest.raises(TemplateError, match="can't give argument to non-function"):
        render("{{$x := 1}}{{$x 2}}", CTR)
    with pytest.raises(TemplateError, match="can't give argument to non-function"):
        render("{{(.ID) 2}}", CTR)
    with pytest.raises(TemplateError, match="ID is not a method but has arguments"):
        render("{{.ID 1}}", CTR)
    with pytest.raises(TemplateError, match="is not a method but has arguments"):
        render("{{.ID | .State.Status}}", CTR)


# ---------------------------------------------------------------------------
# literals


def test_string_literals_and_escapes():
    assert render(r'{{"\n"}}', None) == "\n"
    assert render(r'{{"\t"}}', None) == "\t"
    assert render(r'a{{"\n"}}b', None) == "a\nb"
    assert render(r'{{"q\"uote\\ \x41\u00e9\101"}}', None) == 'q"uote\\ AéA'
    assert render(r"{{`raw\n`}}", None) == r"raw\n"
    assert render("{{`multi\nline`}}", None) == "multi\nline"


def test_number_and_constant_literals():
    assert render("{{1}} {{-2}} {{+3}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", None) == "1 -2 3 31 15 15 5 1000"
    assert render("{{1.5}} {{3.0}} {{1e3}} {{.5}}", None) == "1.5 3 1000 0.5"
    assert render("{{'a'}} {{'\\n'}}", None) == "97 10"
    assert render("{{true}} {{false}}", None) == "true false"
    assert render("{{print nil}}", None) == "<nil>"


def test_nil_is_not_a_command():
    with pytest.raises(TemplateError, match="nil is not a command"):
        render("{{nil}}", None)


# ---------------------------------------------------------------------------
# value printing (fmt %v)


@pytest.mark.parametrize(
    "value, want",
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (1.5, "1.5"),
        (2.0, "2"),
        (0.1, "0.1"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (-0.0, "-0"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
        ([], "[]"),
        ([1, [2, 3], "x", None], "[1 [2 3] x <nil>]"),
        ({}, "map[]"),
        ({"b": [1], "a": {"y": 2, "x": 1}}, "map[a:map[x:1 y:2] b:[1]]"),
        ((1, 2), "[1 2]"),
    ],
)
def test_value_printing(value, want):
    assert render("{{.V}}", {"V": value}) == want


# ---------------------------------------------------------------------------
# functions: json


@pytest.mark.parametrize(
    "value, want",
    [
        ({"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),
        ({"b": 1, "a": 2}, '{"b":1,"a":2}'),  # the data's key order
        ([], "[]"),
        ({}, "{}"),
        (None, "null"),
        (True, "true"),
        ("str", '"str"'),
        (1.0, "1"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        ({"n": None, "t": False, "f": 0.5}, '{"n":null,"t":false,"f":0.5}'),
        ('quote " back \\ nl \n tab \t', '"quote \\" back \\\\ nl \\n tab \\t"'),
        ("\x01\x1f\x7f", '"\\u0001\\u001f\x7f"'),
        ("héllo ☃", '"héllo ☃"'),
        ("\u2028\u2029", '"\\u2028\\u2029"'),
        ({1: "int key"}, '{"1":"int key"}'),
        ([{"Name": "x", "Labels": {}}], '[{"Name":"x","Labels":{}}]'),
    ],
)
def test_json(value, want):
    assert render("{{json .}}", value) == want


def test_json_does_not_escape_html_like_podman():
    # containers/common's json template function uses an Encoder with
    # SetEscapeHTML(false): <, > and & come out as they are.
    assert render("{{json .}}", {"s": "<a&b>"}) == '{"s":"<a&b>"}'


def test_json_of_missing_and_field():
    assert render("{{json .Nope}}", {}) == "null"
    assert render("{{json .State}}", CTR) == '{"Status":"running","Running":true,"Pid":42,"ExitCode":0}'


def test_json_of_nan_prints_nothing():
    assert render("{{json .}}", float("nan")) == ""


# ---------------------------------------------------------------------------
# functions: index, len, slice


def test_index():
    data = {"Labels": {"app": "web", "tier": "db"}, "L": [10, 20, 30], "M": {"a": {"b": ["x", "y"]}}}
    assert render('{{index .Labels "app"}}', data) == "web"
    assert render("{{index .L 1}}", data) == "20"
    assert render('{{index .M "a" "b" 1}}', data) == "y"
    assert render("{{index .L}}", data) == "[10 20 30]"
    assert render('{{index "abc" 1}}', data) == "98"  # a byte, like Go
    # a missing key gives the map's zero value: "" for a map of strings
    assert render('[{{index .Labels "nope"}}]', data) == "[]"
    assert render('[{{index .Nope "k"}}]', data) == "[]"
    assert render('{{index . "x"}}', {"y": [1]}) == "<no value>"


def test_index_errors():
    with pytest.raises(TemplateError, match="error calling index: index out of range: 3"):
        render("{{index .L 3}}", {"L": [1, 2, 3]})
    with pytest.raises(TemplateError, match="error calling index: index out of range: -1"):
        render("{{index .L -1}}", {"L": [1]})
    with pytest.raises(TemplateError, match="can't index item of type int"):
        render("{{index . 0}}", 5)
    with pytest.raises(TemplateError, match="cannot index slice/array with type string"):
        render('{{index . "a"}}', [1])


def test_len_and_slice():
    assert render("{{len .Names}} {{len .Config.Labels}} {{len .ID}}", CTR) == "2 2 6"
    assert render('{{len "héllo"}}', None) == "6"  # bytes, as in Go
    assert render("{{len .Nope}}", {}) == "0"
    with pytest.raises(TemplateError, match="error calling len: len of type int"):
        render("{{len 3}}", None)
    assert render('{{slice "abcdef" 1 3}} {{slice .L 1}}', {"L": [1, 2, 3]}) == "bc [2 3]"


# ---------------------------------------------------------------------------
# functions: strings


def test_string_functions():
    assert render('{{join .Names ","}}', CTR) == "web,db"
    assert render('{{join .Names ", "}}', CTR) == "web, db"
    assert render('{{join .Nope ","}}', {}) == ""
    assert render("{{upper .ID}} {{lower \"MiXeD\"}}", CTR) == "ABC123 mixed"
    assert render('{{title "hello wORLD foo_bar a-b"}}', None) == "Hello WORLD Foo_bar A-B"
    assert render('{{split "a:b:c" ":"}}', None) == "[a b c]"
    assert render('{{index (split "a:b:c" ":") 2}}', None) == "c"
    assert render('{{truncate "abcdef" 3}}|{{truncate "ab" 3}}', None) == "abc|ab"
    assert render('{{trunc 3 "abcdef"}}|{{trunc -2 "abcdef"}}', None) == "abc|ef"
    assert render('{{contains "haystack" "st"}} {{contains "haystack" "x"}}', None) == "true false"
    assert render('{{replace "a-b-c" "-" "+" -1}} {{replace "a-b-c" "-" "+" 1}}', None) == "a+b+c a+b-c"
    assert render('[{{pad "x" 2 1}}][{{pad "" 2 1}}]', None) == "[  x ][]"
    assert render('{{html "<a href=\'x\'>&</a>"}}', None) == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    assert render('{{urlquery "a b&c=d/é"}}', None) == "a+b%26c%3Dd%2F%C3%A9"


def test_string_function_type_errors():
    with pytest.raises(TemplateError, match="wrong type for value; expected string; got int"):
        render("{{upper 5}}", None)
    with pytest.raises(TemplateError, match="invalid value; expected string"):
        render("{{upper .Nope}}", {})
    with pytest.raises(TemplateError, match="wrong number of args for upper: want 1 got 2"):
        render('{{upper "a" "b"}}', None)
    with pytest.raises(TemplateError, match="wrong number of args for join: want 2 got 1"):
        render("{{join .Names}}", CTR)


# ---------------------------------------------------------------------------
# functions: printf / print / println


@pytest.mark.parametrize(
    "args, want",
    [
        ('"%s" "x"', "x"),
        ('"%d" 42', "42"),
        ('"%5d|%-5d|%05d" 42 42 -42', "   42|42   |-0042"),
        ('"%+d %x %X %o %b %#x" 5 255 255 8 5 255', "+5 ff FF 10 101 0xff"),
        ('"%v %v %v" 1 "s" true', "1 s true"),
        ('"%q" "a\\"b"', '"a\\"b"'),
        ("\"%q\" 'x'", "'x'"),
        ('"%x" "hi"', "6869"),
        ('"%t" false', "false"),
        ('"%%"', "%"),
        ('"%10s|%-10s|" "right" "left"', "     right|left      |"),
        ('"%.2s" "abcdef"', "ab"),
        ('"%.2f %e %g" 3.14159 1234.5 0.000001', "3.14 1.234500e+03 1e-06"),
        ('"%6.2f|" 3.14159', "  3.14|"),
        ('"%c" 65', "A"),
        ('"%d %s"', "%!d(MISSING) %!s(MISSING)"),
        ('"%d" "x"', "%!d(string=x)"),
        ('"%s" 5', "%!s(int=5)"),
        ('"%s" 1 2', "%!s(int=1)%!(EXTRA int=2)"),
        ('"%v" .Names', "[web db]"),
        ('"%s" .Names', "[web db]"),
        ('"%d" .Names', "[%!d(string=web) %!d(string=db)]"),
        ('"%v" .Nope', "<nil>"),
        ('"%*d" 5 1', "    1"),
        ('"%T %T" 1 "s"', "int string"),
    ],
)
def test_printf(args, want):
    assert render("{{printf " + args + "}}", CTR) == want


def test_print_and_println():
    # Sprint adds spaces between operands when neither is a string
    assert render('{{print 1 2 "a" "b" 3}}', None) == "1 2ab3"
    assert render('{{println 1 "a"}}', None) == "1 a\n"
    assert render("{{print}}", None) == ""


# ---------------------------------------------------------------------------
# functions: comparison and logic


@pytest.mark.parametrize(
    "expr, want",
    [
        ("eq 1 1", "true"), ("eq 1 2", "false"), ('eq "a" "a"', "true"), ("eq 1 2 3 1", "true"),
        ("eq .Nope .Nope2", "true"), ('eq .Nope "x"', "false"), ("eq true true", "true"),
        ("ne 1 2", "true"), ('ne "a" "a"', "false"),
        ("lt 1 2", "true"), ("le 2 2", "true"), ("gt 3 2", "true"), ("ge 1 2", "false"),
        ('lt "a" "b"', "true"), ("lt 1.5 2.5", "true"),
        ("and 1 2", "2"), ("and 1 0 2", "0"), ('or 0 "" "x"', "x"), ("or 0 false", "false"),
        ("not 0", "true"), ('not "x"', "false"),
        ('eq .State.Status "running"', "true"),
    ],
)
def test_comparisons(expr, want):
    assert render("{{" + expr + "}}", CTR) == want


def test_and_or_short_circuit():
    # the failing second operand is never evaluated
    assert render("{{and .A (index .L 5)}}", {"A": 0, "L": []}) == "0"
    assert render("{{or .A (index .L 5)}}", {"A": 1, "L": []}) == "1"


@pytest.mark.parametrize(
    "expr, err",
    [
        ('eq 1 "a"', "incompatible types for comparison"),
        ("eq 1 1.0", "incompatible types for comparison"),
        ("lt true false", "invalid type for comparison"),
        ('lt 1 "a"', "incompatible types for comparison"),
        ("lt .Nope 1", "invalid type for comparison"),
        ("eq 1", "missing argument for comparison"),
    ],
)
def test_comparison_errors(expr, err):
    with pytest.raises(TemplateError, match=err):
        render("{{" + expr + "}}", {})


# ---------------------------------------------------------------------------
# whitespace trimming and comments


def test_trim_markers():
    assert render("a  {{- .X -}}  b", {"X": 1}) == "a1b"
    assert render("a \n\t{{- .X}} b", {"X": 1}) == "a1 b"
    assert render("a {{.X -}} \n b", {"X": 1}) == "a 1b"
    assert render("{{range .}}\n  {{- .}}\n{{- end}}", [1, 2]) == "12"
    # "{{-3}}" is the number -3, not a trim marker
    assert render("x {{-3}}", None) == "x -3"


def test_comments():
    assert render("a{{/* a comment */}}b", None) == "ab"
    assert render("a {{- /* trimmed */ -}} b", None) == "ab"
    assert render("{{/* multi\nline */}}x", None) == "x"


# ---------------------------------------------------------------------------
# parse errors


@pytest.mark.parametrize(
    "tmpl, err",
    [
        ("{{ .ID }", 'unexpected "}" in operand'),
        ("{{.ID}", "bad character U+007D '}'"),
        ("{{.ID", "unclosed action"),
        ("{{if .X}}", "unexpected EOF"),
        ("{{range .X}}a", "unexpected EOF"),
        ("{{end}}", "unexpected {{end}}"),
        ("{{else}}", "unexpected {{else}}"),
        ("{{if .X}}{{else}}{{else}}{{end}}", "expected end; found {{else}}"),
        ("{{nosuch .X}}", 'function "nosuch" not defined'),
        ("{{}}", "missing value for command"),
        ("{{if}}{{end}}", "missing value for if"),
        ('{{.X | "a"}}', "non executable command in pipeline stage 2"),
        ('{{"abc}}', "unterminated quoted string"),
        ("{{`abc}}", "unterminated raw quoted string"),
        ("{{/* x }}", "unclosed comment"),
        ("{{/* x */ .X}}", "comment ends before closing delimiter"),
        ("{{(.X}}", "unclosed left paren"),
        ("{{.X)}}", "unexpected right paren"),
        ("{{3x}}", 'bad number syntax: "3x"'),
        ("{{.X := 1}}", 'unexpected ":=" in operand'),
        ('{{"a".X}}', 'unexpected . after term "\\"a\\""'),
        ("{{range $a, $b, $c := .}}{{end}}", "too many declarations in range"),
        ("{{with $a, $b := .}}{{end}}", "too many declarations in with"),
        ("{{template \"x\"}}", "{{template}} is not supported"),
        ('{{"\\q"}}', "invalid syntax"),
        ("{{.X ^ 1}}", 'unexpected "^" in operand'),
        ("{{.X}}{{€}}", "unrecognized character in action: U+20AC"),
    ],
)
def test_parse_errors(tmpl, err):
    with pytest.raises(TemplateError) as ei:
        Template(tmpl)
    msg = str(ei.value)
    assert msg.startswith("template: format:"), msg
    assert err in msg, msg
    assert "\n" not in msg


def test_parse_error_reports_line():
    with pytest.raises(TemplateError, match=r"^template: format:3: unexpected EOF"):
        Template("line1\nline2\n{{if .X}}")
    with pytest.raises(TemplateError, match=r"^template: ps:1: "):
        Template("{{.X", name="ps")


def test_errors_are_one_line():
    with pytest.raises(TemplateError) as ei:
        render("{{index `a\nb` 9}}", None)
    assert "\n" not in str(ei.value)


def test_template_is_reusable():
    t = Template("{{.A}}-")
    assert t.execute({"A": 1}) == "1-"
    assert t.execute({"A": 2}) == "2-"


# ---------------------------------------------------------------------------
# is_table / normalize_format


@pytest.mark.parametrize(
    "fmt, want",
    [
        ("table {{.ID}}", True),
        ("  table {{.ID}}", True),
        ("table", True),
        ("table\t{{.ID}}", True),
        (r"table\t{{.ID}}", True),
        ("{{.ID}}", False),
        ("tablespoon {{.ID}}", False),
        ("json", False),
        ("mytable {{.ID}}", False),
    ],
)
def test_is_table(fmt, want):
    assert is_table(fmt) is want


@pytest.mark.parametrize(
    "fmt, want",
    [
        (r"{{.ID}}\t{{.Names}}", "{{.ID}}\t{{.Names}}"),
        (r"{{.ID}}\n", "{{.ID}}\n"),
        ("{{.ID}} {{.Names}}", "{{.ID}} {{.Names}}"),
        (r"table {{.ID}}\t{{.Names}}", "{{.ID}}\t{{.Names}}"),
        # podman: spaces in a table format separate columns
        ("table {{.ID}} {{.Names}}", "{{.ID}}\t{{.Names}}"),
        ("table {{ .ID }}", "{{ .ID }}"),
        # escapes inside actions are left for the template's own string syntax
        (r'{{join .Names "\n"}}\n', '{{join .Names "\\n"}}\n'),
        ('table {{join .Names ", "}}', '{{join .Names ", "}}'),
    ],
)
def test_normalize_format(fmt, want):
    assert normalize_format(fmt) == want


# ---------------------------------------------------------------------------
# tabwriter


def test_format_table_example():
    rows = [["REPOSITORY", "TAG", "IMAGE ID"], ["localhost/busybox", "latest", "abc"]]
    assert format_table(rows) == "REPOSITORY         TAG         IMAGE ID\nlocalhost/busybox  latest      abc\n"


def test_format_table_minwidth_and_padding():
    # every column is at least 12 wide; wider cells get 2 spaces of padding
    assert format_table([["A", "B"], ["x", "y"]]) == "A           B\nx           y\n"
    assert format_table([["ABCDEFGHIJKL", "B"]]) == "ABCDEFGHIJKL  B\n"
    assert format_table([["ABCDEFGHIJ", "B"]]) == "ABCDEFGHIJ  B\n"
    assert format_table([]) == ""
    assert format_table([["only"]]) == "only\n"


def test_format_table_last_cell_not_padded_and_empty_cells():
    rows = [["NAME", "PORTS", "STATUS"], ["web", "", "Up"], ["a-much-longer-name", "80/tcp", ""]]
    assert format_table(rows) == (
        "NAME                PORTS       STATUS\n"
        "web                             Up\n"
        "a-much-longer-name  80/tcp      \n"
    )


def test_tabwrite_column_blocks():
    # a line with fewer cells ends the block of the columns it lacks
    text = "a\tb\tc\nlonger-than-twelve\tx\n"
    assert tabwrite(text) == "a" + " " * 19 + "b" + " " * 11 + "c\n" + "longer-than-twelve  x\n"
    # a line without tabs separates blocks completely
    text = "aaaaaaaaaaaaaaaaaaaa\tb\nno tabs here\nc\td\n"
    assert tabwrite(text) == "aaaaaaaaaaaaaaaaaaaa  b\nno tabs here\nc           d\n"


def test_tabwrite_counts_characters_and_keeps_partial_last_line():
    assert tabwrite("é\tx\nab\ty") == "é           x\nab          y"
    assert tabwrite("no tabs\n") == "no tabs\n"


# ---------------------------------------------------------------------------
# render_rows


ROWS = [
    {"ID": "c061a0839e", "Names": "one", "CreatedAt": "2024-01-01", "ImageID": "i1", "Labels": {"a": "1"},
     "State": {"Status": "up"}, "Size": 10},
    {"ID": "1eb6fab5aa8f4b5cbfd3e66aa35e9b2a", "Names": "three", "CreatedAt": "2024-01-02", "ImageID": "i2",
     "Labels": {}, "State": {"Status": "exited"}, "Size": 2000},
]


def test_render_rows_table_with_headers():
    out = render_rows(r"table {{.ID}}\t{{.Names}}", ROWS, {"ID": "CONTAINER ID"})
    assert out == (
        "CONTAINER ID                      NAMES\n"
        "c061a0839e                        one\n"
        "1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  three\n"
    )


def test_render_rows_default_headers_split_camel_case():
    out = render_rows("table {{.ImageID}}\t{{.CreatedAt}}\t{{.Names}}", ROWS[:1])
    assert out.splitlines()[0] == "IMAGE ID    CREATED AT  NAMES"


def test_render_rows_header_overrides_are_upper_cased():
    out = render_rows("table {{.Names}}", ROWS[:1], {"Names": "Container Name"})
    assert out == "CONTAINER NAME\none\n"


def test_render_rows_header_for_non_plain_actions():
    fmt = 'table {{.ID}}\t{{json .Labels}}\t{{.State.Status}}\t{{upper .Names}}\t{{index .Labels "a"}}'
    out = render_rows(fmt, ROWS[:1], {"ID": "CONTAINER ID"})
    header, row = out.splitlines()
    assert header.split() == ["CONTAINER", "ID", "LABELS", "STATUS", "NAMES", "LABELS"]
    assert row.split() == ["c061a0839e", '{"a":"1"}', "up", "ONE", "1"]


def test_render_rows_header_survives_functions_that_need_data():
    out = render_rows('table {{.Names}}\t{{printf "%d" .Size}}\t{{if gt .Size 100}}big{{else}}small{{end}}', ROWS)
    lines = out.splitlines()
    assert lines[1].split() == ["one", "10", "small"]
    assert lines[2].split() == ["three", "2000", "big"]
    assert lines[0].startswith("NAMES")


def test_render_rows_table_with_spaces_and_no_rows():
    assert render_rows("table {{.ID}} {{.Names}}", [], {"ID": "CONTAINER ID"}) == "CONTAINER ID  NAMES\n"
    assert render_rows("table {{.ID}}", [], {"ID": "CONTAINER ID"}, noheading=True) == ""


def test_render_rows_plain_format():
    assert render_rows("{{.Names}}", ROWS) == "one\nthree\n"
    assert render_rows(r"{{.Names}}\n", ROWS) == "one\nthree\n"
    assert render_rows("{{.Names}}\n", ROWS) == "one\nthree\n"
    assert render_rows("{{.Names}} {{.Size}}", ROWS) == "one 10\nthree 2000\n"
    assert render_rows("{{.Names}}", []) == ""
    assert render_rows('{{.Names}}{{"\\n"}}', ROWS[:1]) == "one\n\n"


def test_render_rows_plain_format_keeps_tabs_like_podman():
    # podman only aligns "table" formats; a user format's tabs are printed as they are
    assert render_rows(r"ID\t{{.ID}}", ROWS[:1]) == "ID\tc061a0839e\n"
    assert render_rows("{{.Names}}\t{{.Size}}", ROWS) == "one\t10\nthree\t2000\n"


def test_render_rows_align_override():
    assert render_rows("{{.Names}}\t{{.Size}}", ROWS, align=True) == "one         10\nthree       2000\n"
    assert render_rows("table {{.Names}}\t{{.Size}}", ROWS, align=False) == "NAMES\tSIZE\none\t10\nthree\t2000\n"


def test_render_rows_noheading_keeps_alignment():
    out = render_rows("table {{.ID}}\t{{.Names}}", ROWS, noheading=True)
    assert out == "c061a0839e                        one\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  three\n"


def test_render_rows_explicit_range_runs_once():
    assert render_rows("{{range .}}{{.Names}},{{end}}", ROWS) == "one,three,\n"
    assert render_rows("{{range .}}{{.Names}}\n{{end -}}", ROWS) == "one\nthree\n"
    assert render_rows(r"{{range .}}{{.Names}}\t{{end}}", ROWS) == "one\tthree\t\n"


def test_render_rows_objects():
    rows = [Port(80, "tcp"), Port(53, "udp")]
    assert render_rows("{{.HostPort}}/{{.Proto}}", rows) == "80/tcp\n53/udp\n"
    assert render_rows("table {{.HostPort}}\t{{.Proto}}", rows) == (
        "HOST PORT   PROTO\n80          tcp\n53          udp\n"
    )


def test_render_rows_parse_error():
    with pytest.raises(TemplateError, match=r'unexpected "}" in operand'):
        render_rows("{{ .ID }", ROWS)


def test_execute_header_directly():
    t = Template("{{.ID}}\t{{.Labels.foo}}\t{{$.Names}}")
    assert t.execute_header({"ID": "container id"}) == "CONTAINER ID\tFOO\tNAMES"
