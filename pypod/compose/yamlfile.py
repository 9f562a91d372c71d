"""YAML as compose-go's yaml.v3 reads it: YAML 1.2 scalars (`yes`/`no`/`on` stay strings, no
timestamps, no sexagesimal numbers), anchors, aliases and `<<` merge keys."""

from __future__ import annotations

import re

import yaml

from pypod.compose.errors import ComposeError


class ComposeYamlLoader(yaml.SafeLoader):
    def flatten_mapping(self, node):
        """`<<: *a` and `<<: [*a, *b]`: the mapping's own keys win, then the first merged mapping."""
        merged, own = [], []
        for key_node, value_node in node.value:
            if key_node.tag != "tag:yaml.org,2002:merge":
                own.append((key_node, value_node))
                continue
            subs = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for sub in reversed(subs):  # later pairs override earlier ones when constructed
                if not isinstance(sub, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping for merging, but found {sub.id}", sub.start_mark)
                self.flatten_mapping(sub)
                merged.extend(sub.value)
        node.value = merged + own


# start from no implicit resolvers, then add YAML 1.2's core schema
ComposeYamlLoader.yaml_implicit_resolvers = {}
for tag, regexp, first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+0123456789.")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
):
    ComposeYamlLoader.add_implicit_resolver(tag, re.compile(regexp), first)


class Reset:
    """`!reset`: the key is removed from what earlier files defined."""


class Override:
    """`!override VALUE`: VALUE replaces what earlier files defined instead of merging with it."""

    def __init__(self, value):
        self.value = value


def _reset(loader, node):
    return Reset()


def _override(loader, node):
    if isinstance(node, yaml.MappingNode):
        return Override(_mapping(loader, node))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


def _mapping(loader, node):
    """Go's yaml refuses a key given twice in one mapping (PyYAML would keep the last)."""
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f'mapping key "{key}" already defined at line {seen[key] + 1}', key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=True)


def _int(loader, node):
    v = loader.construct_scalar(node)
    s = v.replace("_", "")
    if s.startswith("0o"):
        return int(s[2:], 8)
    if s.startswith("0x"):
        return int(s, 16)
    if len(s.lstrip("+-")) > 1 and s.lstrip("+-").startswith("0"):  # yaml.v3 keeps 1.1's 0755 octal
        return int(s, 8)
    return int(s)


def _float(loader, node):
    v = loader.construct_scalar(node).lower()
    if v.endswith("inf"):
        return float("-inf") if v.startswith("-") else float("inf")
    if v == ".nan":
        return float("nan")
    return float(v)


ComposeYamlLoader.add_constructor("tag:yaml.org,2002:map", _mapping)
ComposeYamlLoader.add_constructor("!reset", _reset)
ComposeYamlLoader.add_constructor("!override", _override)
ComposeYamlLoader.add_constructor("tag:yaml.org,2002:int", _int)
ComposeYamlLoader.add_constructor("tag:yaml.org,2002:float", _float)


def load_documents(text: str, filename: str) -> list:
    try:
        return [d for d in yaml.load_all(text, Loader=ComposeYamlLoader)]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        prefix = "" if "already defined" in problem else "yaml: "
        raise ComposeError(f"failed to parse {filename}: {prefix}{where}{problem}") from None


def check_keys(value, prefix: str = ""):
    """Compose accepts only string keys: `non-string key in services.web: 1`."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                where = f"in {prefix}" if prefix else "at top level"
                raise ComposeError(f"non-string key {where}: {k!r}")
            check_keys(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_keys(v, f"{prefix}[{i}]")


def _reads_as_other_type(value: str) -> bool:
    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))
    return tag != "tag:yaml.org,2002:str"


def dump(data) -> str:
    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):  # lists indented under their key
            return super().increase_indent(flow, False)

        def choose_scalar_style(self):
            # Go's yaml: "…" for a string that would read back as another type, '…' where PyYAML
            # quotes for other reasons, a literal block for several lines
            value = self.event.value
            if self.event.tag == "tag:yaml.org,2002:str" and "\n" in value and value.strip(" \n"):
                return "|"
            style = super().choose_scalar_style()
            if self.event.tag != "tag:yaml.org,2002:str":
                return style
            if (style == "'" and _reads_as_other_type(value)) or (not style and value in ("y", "Y", "n", "N")):
                return '"'
            return style

    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1 << 30)
