"""A line-aware YAML reader for Kubernetes manifests and chaos experiment files.

Findings are only useful when they point at a line, and PyYAML's constructors throw the
positions away. So we let libyaml (when present) compose the node graph and build plain
Python values ourselves, recording the 1-based line of every key and sequence item by its
path. Kubernetes' own YAML rules are followed where they differ from PyYAML's: mapping
keys become strings, timestamps stay strings, and a duplicated key is an error (kubectl
rejects it). Every way a document can be unreadable - bad syntax, recursive aliases,
absurd nesting, alias bombs, undecodable bytes - becomes one :class:`ConfigError` naming
the file and line, so callers have exactly one exception to handle.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from seawall._errors import ConfigError

__all__ = ["Document", "PathPart", "field_path", "load_text", "read_sources"]

PathPart = str | int

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = SafeConstructor()
_TYPED = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
_MERGE = "tag:yaml.org,2002:merge"
# An alias can reuse a subtree many times ("billion laughs"); no real manifest comes near.
_MAX_VALUES = 2_000_000
_YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    """One YAML document: its value and the line of every key or item, by path."""

    source: str
    index: int
    start_line: int
    data: Any
    lines: dict[tuple[PathPart, ...], int] = field(repr=False)

    def line_of(self, path: Sequence[PathPart]) -> int:
        """The line of ``path``, or of its nearest recorded parent."""
        key = tuple(path)
        while key:
            line = self.lines.get(key)
            if line is not None:
                return line
            key = key[:-1]
        return self.start_line


def field_path(path: Sequence[PathPart]) -> str:
    """``("spec", "containers", 0, "image")`` -> ``spec.containers[0].image``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)


class _Builder:
    """Turns one composed node graph into plain values plus a path -> line map."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[tuple[PathPart, ...], int] = {}
        self._count = 0
        self._active: set[int] = set()

    def _fail(self, node: Node, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {problem}")

    def build(self, node: Node, path: tuple[PathPart, ...]) -> Any:
        self._count += 1
        if self._count > _MAX_VALUES:
            raise self._fail(node, "document expands to too many values (alias bomb?)")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self._active:
            raise self._fail(node, "recursive alias: a node contains itself")
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                items = []
                for i, child in enumerate(node.value):
                    self.lines[(*path, i)] = child.start_mark.line + 1
                    items.append(self.build(child, (*path, i)))
                return items
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            raise self._fail(
                node, f"unsupported YAML node {type(node).__name__}"
            )  # pragma: no cover
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _TYPED:
            return node.value  # strings, timestamps and unknown tags stay text
        try:
            return SafeConstructor.yaml_constructors[node.tag](_CONSTRUCTOR, node)
        except (ValueError, KeyError, TypeError) as exc:
            raise self._fail(node, f"cannot read {node.value!r} as {node.tag}") from exc

    def _mapping(self, node: MappingNode, path: tuple[PathPart, ...]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                raise self._fail(key_node, "a mapping key must be a plain value")
            key = key_node.value
            if key in result:
                raise self._fail(key_node, f"duplicate key {key!r}")
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        for merge in merges:  # YAML merge keys: explicit keys win, earlier merges win
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                merged = self.build(source, path)
                if not isinstance(merged, dict):
                    raise self._fail(source, "a merge key (<<) must name a mapping")
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


def load_text(text: str, source: str) -> list[Document]:
    """Every non-empty document of a multi-document YAML text."""
    documents: list[Document] = []
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if node is None:
                continue
            builder = _Builder(source)
            data = builder.build(node, ())
            if data is None:
                continue
            start = node.start_mark.line + 1
            documents.append(Document(source, index, start, data, builder.lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{source}{line}: invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{source}: YAML nested too deeply to read") from exc
    return documents


def _files_under(path: Path) -> Iterator[Path]:
    for child in sorted(path.rglob("*")):
        if child.is_file() and child.suffix in _YAML_SUFFIXES:
            yield child


def read_sources(paths: Sequence[str], stdin: IO[str] | None = None) -> list[tuple[str, str]]:
    """``(source name, text)`` for each file, each YAML file under a directory, or ``-``."""
    texts: list[tuple[str, str]] = []
    for raw in paths:
        if raw == "-":
            try:
                texts.append(("<stdin>", (stdin or sys.stdin).read()))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"<stdin>: cannot read: {exc}") from exc
            continue
        path = Path(raw)
        files = list(_files_under(path)) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise ConfigError(f"{raw}: no .yaml, .yml or .json files in this directory")
        for file in files:
            try:
                texts.append((str(file), file.read_text(encoding="utf-8")))
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{file}: not UTF-8 text: {exc.reason}") from exc
            except OSError as exc:
                raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    return texts
