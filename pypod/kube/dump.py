"""YAML as podman writes it (sigs.k8s.io/yaml over go-yaml v2): keys sorted, two-space indent,
sequences not indented under their key, a string that YAML 1.1 would read as something else
double-quoted. `yaml` is imported here only: it is not on any other command's path."""

from __future__ import annotations

from pypod import __version__

HEADER = ("# Save the output of this file and use kubectl create -f to import\n"
          "# it into Kubernetes.\n"
          "#\n"
          f"# Created with pypod-{__version__}\n")
# go-yaml v2 (what kubectl reads with) also takes these as booleans; PyYAML does not
_YAML11_EXTRA = {"y", "Y", "n", "N"}


def _dumper():
    import yaml

    class KubeDumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):
        node_tag = dumper.resolve(yaml.ScalarNode, value, (True, False))
        if node_tag != "tag:yaml.org,2002:str" or value in _YAML11_EXTRA:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    KubeDumper.add_representer(str, text)
    # an object used twice (a Deployment's labels as its selector) is written twice, never as a
    # YAML anchor and alias: kubectl reads those, but people and some tools do not
    KubeDumper.ignore_aliases = lambda self, data: True
    return KubeDumper


def document(obj: dict) -> str:
    import yaml

    return yaml.dump(obj, Dumper=_dumper(), default_flow_style=False, sort_keys=True,
                     allow_unicode=True, width=80)


def render(documents: list[dict]) -> str:
    return HEADER + "---\n".join(document(d) for d in documents)
