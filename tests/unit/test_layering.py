"""The import direction of DESIGN.md holds: cli → engine → store/image/runtime/network → linux.

Every `import` in pypod/ is read with `ast` — at the top of a module, inside functions and under
`if TYPE_CHECKING:` alike (a lazy import is still a dependency) — as are `importlib.import_module`
and `__import__` calls with a literal pypod module name.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "pypod"

# The packages (layers) under pypod/. Anything else directly under pypod/ is a top-level helper.
LAYERS = ("cli", "api", "compose", "remote", "kube", "engine", "store", "image", "runtime", "network",
          "linux")

# They stand on engine/ (remote/: on a server's API), never the other way round.
_FRONT_ENDS = {"cli", "api", "compose", "remote"}

# What each layer must not import (beyond its own package). Top-level helpers (errors, paths,
# config, units, ...) are importable from every layer except linux/ (which imports nothing of
# pypod: it is the syscall level everything else stands on) and cli/ (see CLI_HELPERS).
FORBIDDEN = {
    "linux": {"*"},
    # store/ knows nothing of Linux or of the things stored
    "store": _FRONT_ENDS | {"engine", "image", "runtime", "network", "linux"},
    "image": _FRONT_ENDS | {"engine", "runtime", "network"},
    # the supervisor gets network/'s driver from its entry point, pypod.engine.supervise
    "runtime": _FRONT_ENDS | {"engine", "network", "image"},
    "network": _FRONT_ENDS | {"engine", "runtime", "image"},
    "engine": _FRONT_ENDS,
    # kube/ maps Kubernetes objects to what the engine keeps, and back: it reads through engine/
    "kube": _FRONT_ENDS | {"store", "runtime", "network", "linux"},
    # compose/ is a planner over the engine
    "compose": {"cli", "api", "store", "image", "runtime", "network", "linux"},
    # api/ is a thin router over the engine (a container's console: engine/console.py)
    "api": {"cli", "compose", "store", "image", "runtime", "network", "linux"},
    # remote/ talks to a server over its API. (Today it is the CLI's remote mode and renders with
    # cli/'s helpers; DESIGN's tunnel engine behind engine/'s interface would drop cli/ from here.)
    "remote": {"api", "compose", "engine", "image", "runtime", "network", "linux"},
}

# cli/ parses flags, calls engine/, renders. Besides engine/ it may use the pure top-level helpers
# that render or parse what the user typed, pypod itself for __version__, and api/ (the
# `system service` verb runs the API server) and remote/ (`--url`/`--connection`). Not config/paths:
# settings are read by the engine.
CLI_HELPERS = {"errors", "template", "tabwriter", "units", "signals", "report", "", "api", "remote",
               "compose", "kube"}

# Single modules allowed one import their layer otherwise may not make, each with why.
EXCEPTIONS = {
    # owned temp work: a dead owner is told from a live one by its pid's start time in /proc
    ("pypod.store.owned", "pypod.linux"):  # (from pypod.linux import proc)
        "the owner of temp/trash work is a process (pid + start time): prune reaps only the dead's",
    # `kube generate` resolves -u NAME in the image's /etc/passwd with the runtime's own parser
    ("pypod.kube.collect", "pypod.runtime.users"): "one parser of passwd/group text (pure logic)",
    # the parsed containers.conf is cached for the next command with the one atomic writer
    ("pypod.config", "pypod.store"): "db.write_atomic writes the cache (a reader sees old or new)",
}

# Top-level helpers import only each other.
HELPER_FORBIDDEN = set(LAYERS)

# cli/ must not reach into what the engine keeps: the stores, or a record's raw option dict.
CLI_FORBIDDEN_ATTRIBUTES = {"store", "vstore", "options"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported pypod module, line) for every import in the file, anywhere in it."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((mod, node.lineno))
            if mod == "pypod":  # from pypod import paths: the names may be modules
                found += [(f"pypod.{a.name}", node.lineno) for a in node.names
                          if (ROOT / a.name).is_dir() or (ROOT / f"{a.name}.py").exists()]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.args[0].value, node.lineno))
    return [(m, line) for m, line in found if m == "pypod" or m.startswith("pypod.")]


def _part(module: str) -> str:
    """The layer (or top-level helper) a pypod module belongs to: 'engine', 'errors', '' (pypod)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _files():
    return sorted(ROOT.rglob("*.py"))


def _violations():
    bad = []
    for path in _files():
        me = _part(_module_name(path))
        for mod, line in _imports(path):
            other = _part(mod)
            if other == me and me in LAYERS:
                continue
            where = f"{path.relative_to(ROOT.parent)}:{line} imports {mod}"
            if (_module_name(path), mod) in EXCEPTIONS:
                continue
            if me == "cli":
                if other != "engine" and other != "cli" and other not in CLI_HELPERS:
                    bad.append(where)
            elif me in FORBIDDEN:
                rule = FORBIDDEN[me]
                if "*" in rule or other in rule:
                    bad.append(where)
            elif me not in LAYERS and me != "__main__" and other in HELPER_FORBIDDEN:
                bad.append(where)
    return bad


def test_the_scanner_sees_lazy_and_relative_imports(tmp_path):
    """The rule is only as good as the parser: imports inside functions and relative ones count."""
    global ROOT
    saved = ROOT
    ROOT = tmp_path / "pypod"
    try:
        (ROOT / "linux").mkdir(parents=True)
        (ROOT / "linux" / "x.py").write_text(
            "def f():\n    from ..engine import containers\n    import pypod.paths\n"
            "    __import__('pypod.cli.app')\n")
        assert [m for m, _ in _imports(ROOT / "linux" / "x.py")] == [
            "pypod.engine", "pypod.paths", "pypod.cli.app"]
        assert len(_violations()) == 3
    finally:
        ROOT = saved


def test_layers_import_only_downwards():
    assert _files(), ROOT
    assert _violations() == []


def _cli_attribute_uses():
    bad = []
    for path in sorted((ROOT / "cli").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in CLI_FORBIDDEN_ATTRIBUTES:
                bad.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} .{node.attr}")
    return bad


def test_cli_does_not_reach_into_stores_or_records():
    assert _cli_attribute_uses() == []


def test_registries_conf_is_read_in_image():
    assert "def load_registries" in (ROOT / "image" / "registries.py").read_text()
    assert "registries.conf" not in "".join(l for l in (ROOT / "config.py").read_text().splitlines()
                                            if not l.lstrip().startswith(("#", '"', "shares")))
