"""Issue 13: what pypod parses from untrusted input never fails with anything but its own error.

Hypothesis feeds image references, Containerfiles, .dockerignore patterns, layer tars,
registries.conf / containers.conf and --format templates to their parsers; the only exception
allowed is the PypodError family (or the module's documented one-line error: TemplateError for
templates, ValueError for a layer stream that is not valid gzip). Deterministic (derandomize, no
example database) and bounded, so CI runs the same examples every time in about 20 seconds.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypod.errors import PypodError

# a Python warning on the user's terminal is not pypod's sentence either
pytestmark = pytest.mark.filterwarnings("error")

# PYPOD_PROPERTY_EXAMPLES=N: hunt longer, with fresh random examples (CI: the same 300 each time)
_HUNT = int(os.environ.get("PYPOD_PROPERTY_EXAMPLES") or 0)
SETTINGS = settings(max_examples=_HUNT or 300, deadline=None, derandomize=not _HUNT, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

# text with the characters the parsers care about over-represented
SPECIAL = "\\/:@.-_+*?[]!^{}$\"'`<>#=,| \t\n\r\x00"
tricky_text = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters()), max_size=80)


# -- image references ----------------------------------------------------------------------------

ref_parts = st.lists(st.sampled_from(["a", "B", "0", ".", "-", "_", "__", "/", ":", "@", "sha256:",
                                      "localhost", ":5000", "x" * 64, "0" * 64, "docker.io",
                                      "library", "latest", "..", "//", ""]), max_size=12)


@SETTINGS
@given(st.one_of(tricky_text, ref_parts.map("".join)))
def test_references_fail_only_with_pypod_errors(text):
    from pypod.image import reference

    for fn in (reference.parse, reference.parse_name, reference.parse_short):
        try:
            ref = fn(text)
        except PypodError:
            continue
        if isinstance(ref, reference.ImageReference):
            str(ref), ref.name(), ref.familiar
            try:
                ref.with_tag(text)
            except PypodError:
                pass
    reference.is_short_name(text), reference.looks_like_id(text), reference.is_valid_tag(text)
    try:
        reference.validate_digest(text)
    except PypodError:
        pass


# -- Containerfiles --------------------------------------------------------------------------------

INSTRUCTIONS = ["FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK",
                "SHELL", "MAINTAINER", "from", "BOGUS", "# escape=`", "# syntax=x", "\\"]
ARGS = ["busybox", "AS", "as", "b", "--from=b", "--platform=linux/amd64", "--chown=1:1", "--",
        "[\"a\", \"b\"]", "[", "]", "<<EOF", "<<-'EOT'", "EOF", "EOT", "$X", "${X:-d}", "${X:+a}",
        "${", "}", "\\", "`", "a=b", "\"q", "'s", "X=\"1 2\"", "\t", ""]
containerfile_lines = st.lists(
    st.tuples(st.sampled_from(INSTRUCTIONS), st.lists(st.sampled_from(ARGS), max_size=5))
    .map(lambda t: " ".join([t[0], *t[1]])), max_size=10).map("\n".join)


@SETTINGS
@given(st.one_of(containerfile_lines, tricky_text))
def test_containerfiles_fail_only_with_pypod_errors(text):
    from pypod.image.build import parser

    try:
        cf = parser.parse(text)
    except PypodError:
        cf = None
    try:
        _, esc, instrs = parser.split_instructions(text)
    except PypodError:
        return
    for ins in instrs:
        for fn in (lambda: ins.json_args(), lambda: parser.words(ins.rest, esc),
                   lambda: parser.expand(ins.rest, {"X": "1 2", "Y": ""}, esc),
                   lambda: parser.key_values(ins.rest, ins.cmd, esc),
                   lambda: parser.arg_spec(ins.rest, esc)):
            try:
                fn()
            except PypodError:
                pass
    assert cf is None or cf.stages


# -- .dockerignore ---------------------------------------------------------------------------------

pattern_text = st.lists(st.one_of(
    st.sampled_from(["*", "**", "**/", "?", "[", "]", "[a-z]", "[z-a]", "[^x]", "[!x]", "[]", "\\",
                     "!", "/", "..", ".", "a", "b/", "#", " "]),
    st.text(max_size=4)), max_size=8).map("".join)


@SETTINGS
@given(st.lists(pattern_text, max_size=6).map("\n".join), st.lists(tricky_text, max_size=4))
def test_ignore_patterns_fail_only_with_pypod_errors(text, paths):
    from pypod.image.build import ignore

    try:
        matcher = ignore.Matcher(ignore.parse_ignore(text))
    except PypodError:
        return
    for p in paths + ["a", "a/b", "b/c/d", "."]:
        matcher.excluded(p)
        matcher.may_contain_included(p)


# -- layer tars ------------------------------------------------------------------------------------

entry = st.tuples(
    st.sampled_from(["f", "d/", "d/f", "../x", "/abs", "a/../../b", "./l", "h", "s", "dev",
                     ".wh.f", "d/.wh..wh..opq", "x" * 120, "\u00e9"]),
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                     tarfile.CHRTYPE, tarfile.FIFOTYPE, b"x"]),
    st.sampled_from(["f", "../../etc/passwd", "/etc", "d", "missing", ""]),
    st.binary(max_size=64),
    st.sampled_from([0o644, 0o4755, 0o777, 0]))


def _tar(entries, fmt) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, link, data, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.linkname = kind, mode, link
            if kind == tarfile.REGTYPE:
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
            else:
                tar.addfile(ti)
    return buf.getvalue()


@st.composite
def layer_bytes(draw):
    data = _tar(draw(st.lists(entry, max_size=6)),
                draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])))
    # damage it: flip bytes, cut it short
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return data


def _unpack(data: bytes, compression: str = "") -> None:
    from pypod.image.streams import DecompressingReader
    from pypod.image.unpack import unpack_layer

    with tempfile.TemporaryDirectory() as top:
        dest = os.path.join(top, "layer")
        os.mkdir(dest)
        reader = DecompressingReader(io.BytesIO(data), compression)
        try:
            unpack_layer(reader, dest, chown=False)
        finally:
            # nothing lands outside the layer directory, whatever the tar says
            assert os.listdir(top) == ["layer"]


@SETTINGS
@given(st.one_of(layer_bytes(), st.binary(max_size=2048)))
def test_layer_tars_fail_only_with_layer_errors(data):
    try:
        _unpack(data)
    except PypodError:
        pass


@SETTINGS
@given(st.one_of(layer_bytes().map(lambda b: __import__("gzip").compress(b, mtime=0)[:]),
                 st.binary(max_size=512).map(lambda b: b"\x1f\x8b\x08\x00" + b)))
def test_gzip_layers_fail_only_with_clear_errors(data):
    try:
        _unpack(data, "gzip")
    except (PypodError, ValueError) as e:  # ValueError: streams.DecompressingReader's documented one
        assert str(e) and "\n" not in str(e)


# -- image archives (load, pull docker-archive:/oci-archive:) -----------------------------------------

ARCHIVE_FILES = ["manifest.json", "index.json", "oci-layout", "c.json", "l.tar", "../x",
                 "blobs/sha256/" + "0" * 64]
archive_docs = st.one_of(
    st.sampled_from([b"{", b"[]", b"{}", b"null", b'[{"Config":5}]', b'"x"',
                     b'[{"Config":"c.json","Layers":["l.tar"],"RepoTags":["x:1", 5]}]',
                     b'[{"Config":"c.json","Layers":["../l.tar"]}]',
                     b'{"manifests":[{"digest":"sha256:' + b"0" * 64 + b'"}]}',
                     b'{"manifests":[{"digest":"sha256:zz","platform":5}]}',
                     b'{"rootfs":{"diff_ids":["sha256:00"]}}', b'{"rootfs":5}']),
    st.binary(max_size=64))


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(ARCHIVE_FILES), archive_docs), max_size=5),
       st.booleans(), st.binary(max_size=300))
def test_image_archives_fail_only_with_pypod_errors(files, damage, junk):
    from pypod.image import archive

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    data = buf.getvalue()
    if damage:
        data = junk + data[len(junk):]
    fd, path = tempfile.mkstemp(suffix=".tar")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        src = archive.TarSource(path)
        try:
            archive.detect(src)
            for img in archive.read_images(src):
                for layer in img.layers:
                    src.open(layer.member).read(16)
        finally:
            src.close()
    except PypodError as e:
        assert "\n" not in e.message and "Error(" not in e.message, e.message
    finally:
        os.unlink(path)


# -- registries.conf, containers.conf ---------------------------------------------------------------

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if v == v and abs(v) != float("inf") else "nan"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + "}"


scalars = st.one_of(st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.sampled_from(["", "docker.io", "localhost:5000", "*.example.com", "[::1]:5000",
                                     "a/b:c", "quay.io/x@sha256:" + "0" * 64, "enforcing",
                                     "permissive", "disabled", "777", "0022", "-1", "/x"]),
                    tricky_text)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(
                                                           ["location", "prefix", "insecure", "blocked",
                                                            "mirror", "x"]), inner, max_size=3)),
                      max_leaves=6)
REG_KEYS = ["unqualified-search-registries", "short-name-mode", "credential-helpers", "registries",
            "insecure", "block", "x"]
REG_TABLES = ["[[registry]]", "[[registry.mirror]]", "[aliases]", "[registries.search]",
              "[registries.insecure]", "[registries.block]", "[registry]"]
TABLE_KEYS = ["location", "prefix", "insecure", "blocked", "mirror-by-digest-only", "pull-from-mirror",
              "registries", "busybox", "a/b", "x"]


@st.composite
def registries_conf(draw):
    lines = [f'"{k}" = {_toml_value(draw(values))}'
             for k in draw(st.lists(st.sampled_from(REG_KEYS), max_size=3, unique=True))]
    for table in draw(st.lists(st.sampled_from(REG_TABLES), max_size=4)):
        lines.append(table)
        lines += [f'"{k}" = {_toml_value(draw(values))}'
                  for k in draw(st.lists(st.sampled_from(TABLE_KEYS), max_size=3, unique=True))]
    return "\n".join(lines) + "\n"


CONF_TABLES = {"containers": ["env", "dns_servers", "default_ulimits", "default_capabilities", "umask",
                              "init", "tz", "shm_size", "log_driver", "no_hosts", "default_sysctls",
                              "http_proxy", "base_hosts_file"],
               "engine": ["stop_timeout", "init_path", "short-name-mode"],
               "network": ["default_rootless_network_cmd", "network_cmd_path"]}


@st.composite
def containers_conf(draw):
    lines = []
    for table in draw(st.lists(st.sampled_from(sorted(CONF_TABLES)), max_size=3, unique=True)):
        lines.append(f"[{table}]")
        lines += [f'"{k}" = {_toml_value(draw(values))}'
                  for k in draw(st.lists(st.sampled_from(CONF_TABLES[table]), max_size=4, unique=True))]
    return "\n".join(lines) + "\n"


def _write(text: str) -> str:
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write(text)
    return path


@SETTINGS
@given(st.one_of(registries_conf(), tricky_text), tricky_text)
def test_registries_conf_fails_only_with_pypod_errors(text, name):
    from pypod.image import reference, registries

    path = _write(text)
    try:
        registries.clear_cache()
        try:
            cfg = registries.load_registries(path)
        except PypodError:
            return
        for n in (name, "busybox", "docker.io/library/busybox", "localhost:5000/a"):
            try:
                ref = reference.parse(n)
            except PypodError:
                continue
            try:
                cfg.pull_sources(ref), cfg.is_blocked(ref), cfg.is_insecure(ref.registry)
                cfg.resolve_short_name(n)
            except PypodError:
                pass
    finally:
        os.unlink(path)
        registries.clear_cache()


@SETTINGS
@given(st.one_of(containers_conf(), tricky_text))
def test_containers_conf_fails_only_with_pypod_errors(text):
    from pypod import config

    path = _write(text)
    old = os.environ.get("CONTAINERS_CONF")
    os.environ["CONTAINERS_CONF"] = path
    try:
        config.clear_caches()
        try:
            cfg = config.engine_config()
            cfg.capabilities, cfg.umask, cfg.env
        except PypodError:
            pass
    finally:
        if old is None:
            os.environ.pop("CONTAINERS_CONF", None)
        else:
            os.environ["CONTAINERS_CONF"] = old
        os.unlink(path)
        config.clear_caches()


# -- --format templates ----------------------------------------------------------------------------

TOKENS = ["{{", "}}", "{{-", "-}}", " ", ".", ".ID", ".Names", ".Labels", ".Ports", ".Size", ".Nope",
          "$", "$x", ":=", "=", "|", "(", ")", "range", "if", "else", "end", "with", "define",
          "template", "block", "break", "continue", "nil", "true", "1", "-1", "1e309", "0x", "'a'",
          "\"s\"", "`r`", "\"\\", "json", "join", "index", "slice", "len", "printf", "\"%d\"",
          "\"%*d\"", "\"%.999999999f\"", "truncate", "pad", "split", "upper", "lower", "title", "eq",
          "lt", "and", "or", "not", "call", "html", "js", "urlquery", "print", "println", "table",
          "\\t", "\n", "/*", "*/", "9999999999999999999999", "\"%v\""]
templates = st.lists(st.sampled_from(TOKENS), max_size=16).map("".join)
DATA = {"ID": "abc", "Names": ["a", "b"], "Labels": {"k": "v", "n": None}, "Ports": [], "Size": 12,
        "Float": 1.5, "Nested": {"Deep": [{"X": 1}]}, "Nil": None, "Bool": True}


@SETTINGS
@given(st.one_of(templates, tricky_text))
def test_templates_fail_only_with_template_errors(text):
    from pypod import template

    try:
        template.render(text, DATA)
        template.render_rows(text, [DATA, {}])
        template.normalize_format(text), template.is_table(text)
    except template.TemplateError as e:  # the CLI prints it as one line
        assert "\n" not in str(e)


def test_template_range_over_a_number_does_not_grow_memory():
    """{{range N}} iterates lazily (it built a list of N items: a large N ate all memory)."""
    import tracemalloc

    from pypod import template

    tracemalloc.start()
    try:
        assert template.render("{{range 1000000}}{{.}}{{break}}{{end}}", {}) == "0"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_template_huge_width_is_a_clear_error():
    import pytest

    from pypod import template

    for text in ('{{printf "%0999999999999d" 1}}', '{{pad .ID 999999999999 1}}'):
        with pytest.raises(template.TemplateError, match=r"error calling (printf|pad): the result is too large$"):
            template.render(text, {"ID": "a"})


# -- compose files ---------------------------------------------------------------------------------

# JSON-like values, with the scalars compose's fields care about over-represented
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 64), 2 ** 64),
                    st.floats(allow_nan=True, allow_infinity=True), tricky_text,
                    st.sampled_from(["80", "8080:80", "127.0.0.1:8080:80/udp", "1-3:1-3", "a:b:c:d", "/data",
                                     "vol:/data:ro", ".:/code", "${X}", "${X:?gone}", "$$", "1g", "0.5",
                                     "10s", "1h2m", "-1", "CMD", "CMD-SHELL", "NONE", "service_healthy",
                                     "host", "none", "bridge", "container:x", "always", "on-failure:3"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(tricky_text, st.sampled_from(
        ["image", "command", "ports", "volumes", "environment", "depends_on", "healthcheck", "test",
         "build", "context", "networks", "aliases", "condition", "target", "source", "type",
         "deploy", "resources", "limits", "memory", "cpus", "replicas", "ulimits", "nofile", "soft",
         "hard", "extends", "service", "file", "profiles", "env_file", "secrets", "configs",
         "x-a", "<<", "external", "name", "driver", "labels", "entrypoint", "restart"])),
        inner, max_size=4)), max_leaves=24)
SERVICE_KEYS = ["image", "build", "command", "entrypoint", "ports", "expose", "volumes", "environment",
                "env_file", "depends_on", "healthcheck", "networks", "restart", "deploy", "ulimits",
                "extends", "profiles", "labels", "tmpfs", "extra_hosts", "dns", "user", "working_dir",
                "stop_grace_period", "mem_limit", "cpus", "sysctls", "cap_add", "secrets", "scale",
                "network_mode", "container_name", "links", "volumes_from", "shm_size", "init"]
services = st.dictionaries(st.sampled_from(["web", "db", "a-b", "x_1", "", "Web", "$X"]),
                           st.dictionaries(st.sampled_from(SERVICE_KEYS), json_values, max_size=6),
                           min_size=1, max_size=3)
compose_models = st.fixed_dictionaries(
    {"services": services},
    optional={"volumes": json_values, "networks": json_values, "secrets": json_values,
              "name": st.one_of(tricky_text, st.sampled_from(["proj", "Proj!", ""])),
              "version": st.sampled_from(["3", "2.4", 3])})


def _compose_text(value) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=False, allow_unicode=True)


@SETTINGS
@given(st.one_of(compose_models.map(_compose_text), tricky_text,
                 st.lists(st.sampled_from(["services:", "\n  web:", "\n    image: x", "\n    ports: [",
                                           "&a", "*a", "<<: *a", "!!python/object:os.system", "\n---\n",
                                           "'", "\"", "{", "}", "\t", "~", "? ", "- "]),
                          max_size=14).map("".join)))
def test_compose_files_fail_only_with_pypod_errors(text):
    """load → normalise → every container's create options (as `up` makes them)."""
    from pypod.compose import plan
    from pypod.compose.project import ProjectOptions, load_project

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "compose.yaml")
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:  # lone surrogates: invalid UTF-8 on disk
            f.write(text)
        try:
            project = load_project(ProjectOptions(files=[path], cwd=d, environ={"X": "1"}))
            for service in project.model.get("services") or {}:
                plan.create_kwargs(project, service, 1)
        except PypodError as e:
            assert str(e) and "Traceback" not in str(e)


# -- API request bodies ----------------------------------------------------------------------------

def _body_for(shape):
    """Bodies shaped after `shape` (so the checks pass and the converter runs), mixed with values
    of any type anywhere (so the checks are what must answer)."""
    from pypod.api.shape import ANY, MapOf

    if isinstance(shape, dict):
        return st.fixed_dictionaries({}, optional={k: _body_for(v) for k, v in shape.items()})
    if isinstance(shape, MapOf):
        return st.dictionaries(tricky_text, _body_for(shape.value), max_size=3)
    if isinstance(shape, list):
        return st.lists(_body_for(shape[0]), max_size=3)
    if isinstance(shape, tuple):
        return st.one_of(*(_body_for(s) for s in shape))
    base = {str: st.one_of(tricky_text, st.sampled_from(["80/tcp", "8080", "0.0.0.0", "/data", "vol:/d",
                                                           "on-failure", "CMD", "CMD-SHELL", "NONE",
                                                           "host", "busybox", "bind", "tmpfs"])),
            bool: st.booleans(), int: st.integers(-(2 ** 70), 2 ** 70), ANY: json_values}.get(shape, json_values)
    return st.one_of(base, base, base, json_values)


def _api_shapes():
    from pypod.api import compat_containers, compat_exec

    return {"create": compat_containers.CREATE_BODY, "exec": compat_exec.EXEC_CREATE}


@SETTINGS
@given(st.data())
def test_api_create_bodies_fail_only_with_http_errors(data):
    from pypod.api.compat_containers import create_options
    from pypod.api.http import HTTPError

    body = data.draw(st.one_of(_body_for(_api_shapes()["create"]), st.dictionaries(tricky_text, json_values)))
    try:
        opts = create_options(body, data.draw(st.one_of(st.none(), tricky_text)))
    except HTTPError as e:
        assert e.status == 400 and "\n" not in e.message
        return
    assert isinstance(opts.command, list) and all(isinstance(c, str) for c in opts.command)


@SETTINGS
@given(json_values, st.sampled_from(["create", "exec"]))
def test_api_body_checks_answer_400_for_anything(value, which):
    from pypod.api.http import HTTPError
    from pypod.api.shape import check

    try:
        check(value, _api_shapes()[which])
    except HTTPError as e:
        assert e.status == 400 and e.message.startswith("invalid request body: ")


@SETTINGS
@given(st.one_of(tricky_text, json_values.map(__import__("json").dumps),
                 st.integers(1, 5000).map(lambda n: "[" * n + "]" * n)))
def test_api_filters_fail_only_with_http_errors(text):
    from pypod.api.http import HTTPError
    from pypod.api.router import parse_filters

    try:
        parsed = parse_filters(text)
    except HTTPError as e:
        assert e.status == 400
        return
    assert all(isinstance(v, str) for values in parsed.values() for v in values)
