"""podman's help walk (the rules of its test/system/015-help.bats), run over every pypod command.

For each command listed under `Available Commands:` (recursing into groups): the line after
`Usage:` is `pypod PATH [options] ARGS` with `[command]` for a group; `Options:` appears exactly
when the synopsis says `[options]`; argument names are UPPER CASE, optional after required; a
command without arguments refuses one with "takes no arguments"; one with required arguments
fails without them; one with a fixed count fails with one more; `-l` with a container, and `--all`
with `--latest`, are refused. Exit code 125 throughout, as podman's.
"""

from __future__ import annotations

import re

import pytest

from tests.lib.user import pypod

pytestmark = pytest.mark.integration

# podman's walker skips these for -l (their arguments are not containers)
_LATEST_EXEMPT = {"exec", "list", "port", "ps", "top"}


def _commands(help_text: str) -> list[str]:
    lines = help_text.split("\n")
    start = lines.index("Available Commands:") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line.split()[0])
    return out


def _walk(path: list[str], seen: list[str]) -> None:
    listing = pypod(*path, "--help", check=True).stdout
    cmds = _commands(listing)
    assert cmds, f"no commands in 'pypod {' '.join(path)} --help'"
    for cmd in cmds:
        words = [*path, cmd]
        full = pypod(*words, "--help")
        assert full.returncode == 0, (words, full.stderr)
        text = full.stdout
        usage = text.split("Usage:\n", 1)[1].split("\n", 1)[0]
        shown = "pypod " + " ".join(words)
        assert (usage + " ").startswith(f"  {shown} "), (shown, usage)
        rest = usage[len(shown) + 2:].strip()
        seen.append(shown)
        if rest.startswith("[command]"):
            if cmd != "help":
                _walk(words, seen)
            continue
        assert "[OPTION" not in rest and not re.search(r"[A-Z].*\[option", rest), usage
        has_options = rest.startswith("[options]")
        rest = rest[len("[options]"):].strip() if has_options else rest
        assert not re.search(r"[a-z]", rest), f"{shown}: argument names must be UPPER CASE: {rest}"
        assert not re.search(r"\[.*\] [A-Z]", rest), f"{shown}: optional args before required: {rest}"
        assert has_options == ("\nOptions:\n" in text), f"{shown}: [options] vs Options: section"
        if not re.search(r"[A-Z]", rest):
            r = pypod(*words, "invalid-arg")
            assert r.returncode == 125 and re.search(r"Error: .* takes no arguments", r.stderr), (shown, r.stderr)
        if "-l, --latest" in text and cmd not in _LATEST_EXEMPT:
            r = pypod(*words, "-l", "nonexistent-container")
            assert r.returncode == 125 and re.search(
                r"Error: .*--latest and (containers|pods|arguments) cannot be used together", r.stderr), (shown, r.stderr)
            r = pypod(*words, "--all", "--latest")
            assert r.returncode == 125 and re.search(
                r"Error: (--all and --latest cannot be used together|--all, --latest and (containers|arguments) "
                r"cannot be used together|unknown flag)", r.stderr), (shown, r.stderr)
        if re.match(r"[A-Z]", rest) and cmd not in ("pause", "unpause"):
            r = pypod(*words, input="")
            assert r.returncode == 125 and re.search(
                r"Error:.* (require|specif|must|provide|need|choose|accepts)", r.stderr), (shown, r.stderr)
        if "..." not in rest:
            n = len(rest.split())
            r = pypod(*words, *(f"x{i}" for i in range(n + 1)), input="")
            assert r.returncode == 125 and re.search(
                rf"Error:.* (takes no arguments|requires exactly {n} arg|accepts at most|too many arguments|"
                rf"accepts {n} arg\(s\), received|accepts between .* and .* arg\(s\), received )", r.stderr), (shown, r.stderr)
    r = pypod(*path)
    if path:
        assert r.returncode == 125 and "Usage:" in r.stdout + r.stderr
        assert f"Error: missing command 'pypod {' '.join(path)} COMMAND'" in r.stderr, r.stderr
    r = pypod(*path, "NoSuchCommand")
    assert r.returncode == 125 and re.search(rf"Error: unrecognized command .*{' '.join(path)} NoSuchCommand", r.stderr)


def test_help_walk_as_podmans(clean_storage):
    seen: list[str] = []
    _walk([], seen)
    assert len(seen) > 60, seen
    for opt in ("help", "--help", "-h"):
        assert pypod(opt, check=True).stdout.split("\n")[0] == "Manage pods, containers and images"


def test_did_you_mean_and_help_command(clean_storage):
    r = pypod("psx")
    assert r.returncode == 125
    # podman 4.3's own answer: cobra's suggestions in podman's registration order
    assert r.stderr.startswith("Error: unrecognized command `pypod psx`\n\nDid you mean this?\n\tps\n\tpush\n"
                               "\tpod\n"), r.stderr
    assert r.stderr.endswith("Try 'pypod --help' for more information\n")
    assert pypod("help", "ps", check=True).stdout == pypod("ps", "--help", check=True).stdout
    r = pypod("run", "-h")
    assert r.returncode == 125 and r.stderr.startswith("Error: flag needs an argument: 'h' in -h\n"), r.stderr
