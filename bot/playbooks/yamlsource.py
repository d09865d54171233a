"""Read a YAML file into plain data while keeping its node tree, so findings can name a line.

Playbooks are written by people but may be hostile or broken, so reading is bounded: files over
`MAX_BYTES` are refused unread, and a first pass over the parser's events rejects aliases
(`*name`, the alias-bomb vector) and caps the number of values and the nesting depth before any
node is built. Every failure is a `YamlProblem` carrying a line.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 256 * 1024
MAX_NODES = 20_000  # a 200-step playbook with HTTP actions needs about 6,000
MAX_DEPTH = 50

Loc = Sequence[str | int]


class YamlProblem(Exception):
    """The file cannot be read as a playbook document; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Document:
    """The parsed data and its node tree; `problems` holds (line, message) findings that did not stop reading."""

    root: yaml.Node
    data: Any
    problems: tuple[tuple[int, str], ...] = ()

    def node_at(self, loc: Loc) -> yaml.Node | None:
        """The value node at exactly `loc` (mapping keys and sequence indexes), or None."""
        node: yaml.Node | None = self.root
        for part in loc:
            found = _child(node, part) if node is not None else None
            node = found[1] if found is not None else None
        return node

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest existing part of `loc`: a mapping key's own line, a list item's first line."""
        node = self.root
        line = node.start_mark.line + 1
        for part in loc:
            found = _child(node, part)
            if found is None:
                break
            line, node = found
        return line


def _child(node: yaml.Node, part: str | int) -> tuple[int, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key.start_mark.line + 1, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item.start_mark.line + 1, item
    return None


# libyaml when present: ten times faster, which matters for the size of file we accept.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COLLECTION_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


def _scan(text: str) -> None:
    """A pass over the parser's events before any node is built: no aliases, not too many values, not too deep."""
    values = depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            raise YamlProblem(line, "YAML aliases (*name) are not allowed in playbooks; write the value out")
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            values += 1
            if values > MAX_NODES:
                raise YamlProblem(line, f"the file has more than {MAX_NODES} YAML values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlProblem(line, f"the file nests deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def read_document(path: Path) -> Document:
    """Read, decode and compose `path`; raises `YamlProblem` (with a line) for anything unusable."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise YamlProblem(1, f"the file is {size} bytes; playbooks are limited to {MAX_BYTES // 1024} KiB")
        raw = path.read_bytes()[: MAX_BYTES + 1]
    except OSError as error:
        raise YamlProblem(1, f"cannot read the file: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise YamlProblem(line, "the file is not UTF-8 text") from None
    return parse_document(text)


def parse_document(text: str) -> Document:
    """Compose one YAML document from `text` into a `Document` whose top level is a mapping."""
    try:
        _scan(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                raise YamlProblem(1, "the file is empty; a playbook is a YAML mapping with id, title, match and steps")
            if not isinstance(root, yaml.MappingNode):
                kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
                raise YamlProblem(root.start_mark.line + 1, f"the top level is {kind}; a playbook is a YAML mapping")
            problems: list[tuple[int, str]] = []
            data = _data(root, loader, problems)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlProblem(line, f"invalid YAML: {error.problem or error.context or 'syntax error'}") from None
    except yaml.YAMLError as error:  # a ReaderError (control characters) has a position, not a mark
        position = getattr(error, "position", 0) or 0
        raise YamlProblem(text.count("\n", 0, position) + 1, f"invalid YAML: {_one_line(error)}") from None
    return Document(root=root, data=data, problems=tuple(problems))


def _data(node: yaml.Node, loader: yaml.SafeLoader, problems: list[tuple[int, str]]) -> Any:
    # Built by hand rather than by the constructor so that duplicate keys are reported, not
    # silently resolved to the last one, and every key is known to be a string.
    expected = _COLLECTION_TAGS.get(type(node))
    if expected is not None and node.tag != expected:
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        problems.append((node.start_mark.line + 1, f"YAML tag {tag} is not allowed in playbooks"))
        return None
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                hint = " (quote a value that starts with {{)" if isinstance(key_node, yaml.MappingNode) else ""
                problems.append((line, f"a mapping key must be a plain string{hint}"))
                continue
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                key = key_node.value
            if key in mapping:
                problems.append((line, f"duplicate key {key!r}"))
                continue
            mapping[key] = _data(value_node, loader, problems)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_data(item, loader, problems) for item in node.value]
    return loader.construct_object(node)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
