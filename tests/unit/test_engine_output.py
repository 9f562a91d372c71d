"""Nothing below cli/ writes to stdout or stderr: the engine returns values and reports warnings,
notices and progress through the Context's Reporter (pypod/report.py); the CLI prints them, the
REST API will serialise them.

Static: every module under pypod/ except cli/ is read with `ast` for print() without file=,
sys.stdout / sys.stderr (and their __dunder__ twins), `from sys import stdout/stderr`, and
os.write / open / os.fdopen on fd 1 or 2. The only exceptions are the entry points of processes
pypod starts itself, whose stdout/stderr are pipes their parent reads (ALLOWED, each with why).
Dynamic: engine calls that warn leave fds 1 and 2 untouched and hand the warning to the Reporter.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "pypod"

_WORKER = "a worker process pypod spawns: its stdout/stderr are pipes the engine reads"

# (file under pypod/, function qualname) → (the module pypod starts as that process, why)
ALLOWED = {
    ("linux/usernsexec.py", "main"): ("pypod.linux.usernsexec",
                                      "the user-namespace helper process: its errors on the stderr "
                                      "the caller reads (before it execs the command)"),
    ("runtime/supervisor/__init__.py", "main"): ("pypod.engine.supervise",
                                        "the supervisor process (pypod-conmon): usage when started wrongly"),
    ("runtime/supervisor/health.py", "Health.health_start"): (
        "pypod.engine.supervise", "the healthcheck's forked child: its stderr is the pipe the "
                                  "supervisor keeps as the check's output"),
    ("runtime/exec.py", "_relay_pty"): ("pypod.runtime.exec",
                                        "the exec helper process relays the pty to the stdout the "
                                        "CLI handed it"),
    ("engine/storage.py", "_unshare_exec"): ("pypod.engine.storage",
                                             "`pypod unshare`'s inner process, before it execs the "
                                             "user's command on the user's terminal"),
    ("engine/storage.py", "main"): ("pypod.engine.storage", "the same process: usage"),
    ("engine/cp.py", "_worker_in"): ("pypod.engine.cp", _WORKER + " (the tar stream on stdout)"),
    ("engine/cp.py", "main"): ("pypod.engine.cp", _WORKER + " (one error line on stderr)"),
    ("engine/volumes.py", "main"): ("pypod.engine.volumes", _WORKER),
    ("store/shift.py", "main"): ("pypod.store.shift", _WORKER),
    ("image/layerdiff.py", "main"): ("pypod.image.layerdiff", _WORKER),
    ("image/layertar.py", "main"): ("pypod.image.layertar", _WORKER),
    ("image/unpack_worker.py", "main"): ("pypod.image.unpack_worker", _WORKER),
    ("image/build/copier.py", "main"): ("pypod.image.build.copier", _WORKER),
    ("runtime/launch.py", "_zygote_child"): ("pypod-conmon", "the supervisor forked early (prefork): one "
                                                            "line on the stderr it shares until it starts"),
    ("engine/build_worker.py", "_build"): ("pypod.engine.build_worker", _WORKER + " (the API's builds)"),
}

# Writers in the CLI's own process that are still to go: each names why it is still there. The
# test fails once one no longer writes (then remove it here).
NOT_YET = {
    ("runtime/attach.py", "attach"): "the terminal client of a container's attach socket (raw mode, "
                                     "SIGWINCH, detach keys) relays to our own fds 0/1/2; it belongs "
                                     "in cli/ (left while runtime/attach.py's buffering is reworked)",
}

_STREAMS = {"stdout", "stderr", "__stdout__", "__stderr__"}


def _is_1_or_2(node) -> bool:
    return isinstance(node, ast.Constant) and node.value in (1, 2) and not isinstance(node.value, bool)


def _fd_1_or_2(node, fd_names=frozenset()) -> bool:
    """fd 1 or 2: the constant, or a local name only ever given 1 or 2 (`out = 1 if ... else 2`)."""
    return _is_1_or_2(node) or (isinstance(node, ast.Name) and node.id in fd_names)


def _fd_names(fn) -> frozenset:
    names: dict[str, bool] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            v = node.value
            std = _is_1_or_2(v) or (isinstance(v, ast.IfExp) and _is_1_or_2(v.body) and _is_1_or_2(v.orelse))
            names[node.targets[0].id] = names.get(node.targets[0].id, True) and std
    return frozenset(n for n, std in names.items() if std)


class _Scanner(ast.NodeVisitor):
    def __init__(self):
        self.stack: list[str] = []
        self.fd_names: list[frozenset] = [frozenset()]
        self.hits: list[tuple[int, str, str]] = []  # (line, qualname, what)

    def _hit(self, node, what: str) -> None:
        self.hits.append((node.lineno, ".".join(self.stack), what))

    def _scope(self, node):
        self.stack.append(node.name)
        self.fd_names.append(_fd_names(node) if not isinstance(node, ast.ClassDef) else frozenset())
        self.generic_visit(node)
        self.fd_names.pop()
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def visit_Attribute(self, node):
        if node.attr in _STREAMS and isinstance(node.value, ast.Name) and node.value.id == "sys":
            self._hit(node, f"sys.{node.attr}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.module == "sys" and any(a.name in _STREAMS for a in node.names):
            self._hit(node, "from sys import a standard stream")

    def visit_Call(self, node):
        fn = node.func
        name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
        if name == "print" and isinstance(fn, ast.Name) and not any(k.arg == "file" for k in node.keywords):
            self._hit(node, "print() to stdout")
        elif name in ("write", "open", "fdopen") and node.args and \
                _fd_1_or_2(node.args[0], self.fd_names[-1]) and \
                (name != "write" or (isinstance(fn, ast.Attribute) and getattr(fn.value, "id", "") == "os")):
            fd = node.args[0]
            self._hit(node, f"{name}({fd.value if isinstance(fd, ast.Constant) else fd.id}, ...)")
        self.generic_visit(node)


@functools.lru_cache(maxsize=None)  # (both tests read every file: parse each once)
def _writes(path: Path) -> list[tuple[int, str, str]]:
    s = _Scanner()
    s.visit(ast.parse(path.read_text(), str(path)))
    return s.hits


def _below_cli():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        # remote/ is, for now, the CLI's remote mode: it renders like cli/ (see test_layering);
        # compose/ is a front end beside cli/ (test_layering's _FRONT_ENDS): attached `up` and
        # `logs` stream the containers' output to the user's terminal, as `pypod logs` does
        if rel.startswith(("cli/", "remote/", "compose/")) or rel == "__main__.py":
            continue
        yield rel, path


def test_the_scanner_sees_each_way_of_writing(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os, sys\nfrom sys import stderr\nclass C:\n    def m(self):\n"
                 "        print('x')\n        sys.stdout.write('x')\n        os.write(2, b'x')\n"
                 "        open(1, 'wb')\n        print('x', file=sys.__stderr__)\n"
                 "        out = 1 if self else 2\n        os.write(out, b'x')\n"
                 "def ok(f):\n    print('x', file=f)\n    os.write(f, b'')\n    g = 1\n    g = f\n"
                 "    os.write(g, b'')\n")
    assert [(q, w) for _, q, w in _writes(f)] == [
        ("", "from sys import a standard stream"), ("C.m", "print() to stdout"), ("C.m", "sys.stdout"),
        ("C.m", "write(2, ...)"), ("C.m", "open(1, ...)"), ("C.m", "sys.__stderr__"),
        ("C.m", "write(out, ...)")]


def test_nothing_below_cli_writes_to_stdout_or_stderr():
    bad = [f"{rel}:{line} {qual or '<module>'}: {what}" for rel, path in _below_cli()
           for line, qual, what in _writes(path) if (rel, qual) not in ALLOWED and (rel, qual) not in NOT_YET]
    assert bad == []


def test_the_allowed_writers_are_process_entry_points_and_still_write():
    """Each exception names the module pypod starts as a process (that name is in pypod's own
    source as a string) and still writes — a stale entry would hide a new writer."""
    sources = {rel: path.read_text() for rel, path in _below_cli()}
    writers = {(rel, qual) for rel, path in _below_cli() for _, qual, _ in _writes(path)}
    for (rel, qual), (process, _why) in ALLOWED.items():
        assert (rel, qual) in writers, (rel, qual)
        assert any(f'"{process}"' in text for text in sources.values()), process
    for rel, qual in NOT_YET:
        assert (rel, qual) in writers, f"{rel} {qual} no longer writes: remove it from NOT_YET"


# -- dynamic ------------------------------------------------------------------------------------
def test_an_engine_warning_goes_to_the_reporter_not_the_terminal(tmp_path, capfd):
    from pypod.engine import containers as ce
    from pypod.engine.context import Context
    from pypod.report import Reporter

    (tmp_path / "rootfs").mkdir()
    reporter = Reporter()
    ctx = Context(tmp_path / "storage", tmp_path / "run", rootless=True, reporter=reporter)
    ce.create(ctx, ce.CreateOptions(image=str(tmp_path / "rootfs"), rootfs=True, command=["true"],
                                    publish=["8080:80"], network="none"))
    assert capfd.readouterr() == ("", "")
    # podman prints it bare (a notice), not as a `WARN[0000]` log line
    assert reporter.notices == ["Port mappings have been discarded as one of the Host, Container, "
                                "Pod, and None network modes are in use"]


def test_the_runtime_dir_fallback_is_reported_once(tmp_path, monkeypatch, capfd):
    from pypod import paths
    from pypod.engine.context import Context
    from pypod.report import Reporter

    fallback = tmp_path / "fallback"
    fallback.mkdir(mode=0o700)
    monkeypatch.setattr(paths, "is_rootless", lambda: True)
    monkeypatch.setattr(paths, "_private_dir", lambda path: str(fallback))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    first, second = Reporter(), Reporter()
    Context.create(reporter=first)
    Context.create(reporter=second)
    assert capfd.readouterr() == ("", "")
    assert first.warnings == [f"XDG_RUNTIME_DIR is not set: using {fallback} for runtime state"]
    assert second.warnings == []
