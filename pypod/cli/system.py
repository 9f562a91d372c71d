"""`pypod system ...`, `version`, `info`."""

from __future__ import annotations

from typing import Optional

from pypod.cli.params import Opt

from pypod.cli import state
from pypod.cli.render import go_json, out

TYPE_CHECKING = False  # typing costs start-up time; the names below are for annotations only
if TYPE_CHECKING:
    from typing import Optional



def version(fmt: Optional[str] = Opt(None, "--format", "-f", help="Change the output format to JSON or a Go template")):
    """Display the pypod version information."""
    from pypod.engine.system import version_report

    rep = version_report()
    if fmt:
        if fmt.strip() == "json":
            out(go_json({"Client": rep["Client"]}))
            return
        from pypod import template

        out(template.render(template.normalize_format(fmt), rep))
        return
    c = rep["Client"]
    out(f"Client:       pypod Engine\nVersion:      {c['Version']}\nAPI Version:  {c['APIVersion']}\n"
        f"Go Version:   {c['GoVersion']}\nBuilt:        {c['BuiltTime']}\nOS/Arch:      {c['OsArch']}")


def info(fmt: Optional[str] = Opt(None, "--format", "-f", help="Change the output format to JSON or a Go template"),
         debug: bool = Opt(False, "--debug", "-D", hidden=True)):
    """Display pypod system information."""
    from pypod.engine.system import info_json, info_report

    rep = info_report(state.context())
    if fmt and fmt.strip() != "json":
        from pypod import template

        out(template.render(template.normalize_format(fmt), rep))
        return
    data = info_json(rep)
    if fmt:
        out(go_json(data, indent=2))
        return
    import yaml

    out(yaml.safe_dump(data, default_flow_style=False, sort_keys=True).rstrip("\n"))


def register(root) -> None:
    app = root.group("system", "Manage pypod")
    app.command("info")(info)
    root.command("version", help="Display the pypod version information")(version)
    root.command("info", help="Display pypod system information")(info)
