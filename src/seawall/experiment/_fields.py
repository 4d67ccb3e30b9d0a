"""Typed, line-aware access to a parsed experiment document.

Every validation error in an experiment must say *which field* and *which line*, so each
value is read through a :class:`Field`: the value, its path from the document root, and
the document that knows every path's line. A wrong value becomes a :class:`ConfigError`
``"FILE:LINE: method[2].provider.url: must be a string"`` at the first problem found.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from seawall._errors import ConfigError
from seawall._formats._yaml import Document, PathPart, field_path

__all__ = ["MISSING", "Field"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__  # pragma: no cover - documents hold only the above


@dataclass(frozen=True)
class Field:
    """One value of the document at ``path``."""

    doc: Document
    path: tuple[PathPart, ...]
    value: Any

    @classmethod
    def root(cls, doc: Document) -> Field:
        return cls(doc, (), doc.data)

    @property
    def name(self) -> str:
        return field_path(self.path) or "(document)"

    @property
    def line(self) -> int:
        return self.doc.line_of(self.path)

    def error(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.doc.source}:{self.line}: {self.name}: {problem}")

    def child(self, key: PathPart, value: Any) -> Field:
        return Field(self.doc, (*self.path, key), value)

    # -- containers -------------------------------------------------------------------

    def mapping(self, allowed: Collection[str] | None = None) -> dict[str, Any]:
        """The value as a mapping; with ``allowed``, an unknown key is an error."""
        if not isinstance(self.value, dict):
            raise self.error(f"must be a mapping, not {_kind(self.value)}")
        if allowed is not None:
            for key in self.value:
                if key not in allowed:
                    hint = difflib.get_close_matches(str(key), list(allowed), n=1)
                    known = f"did you mean {hint[0]!r}?" if hint else f"known: {sorted(allowed)}"
                    raise self.child(key, self.value[key]).error(f"unknown field ({known})")
        return self.value

    def items(self) -> list[Field]:
        if not isinstance(self.value, list):
            raise self.error(f"must be a list, not {_kind(self.value)}")
        return [self.child(i, v) for i, v in enumerate(self.value)]

    def get(self, key: str, *, required: bool = False) -> Field:
        """The field ``key`` of this mapping (value :data:`MISSING` when absent)."""
        data = self.mapping()
        if key not in data:
            if required:
                raise self.error(f"missing required field {key!r}")
            return self.child(key, MISSING)
        return self.child(key, data[key])

    @property
    def missing(self) -> bool:
        return self.value is MISSING

    # -- scalars ----------------------------------------------------------------------

    def string(self, *, default: str | None = None, choices: Collection[str] = ()) -> str:
        if self.missing:
            if default is None:
                raise self._required()
            return default
        if not isinstance(self.value, str):
            raise self.error(f"must be a string, not {_kind(self.value)}")
        if not self.value.strip():
            raise self.error("must not be empty")
        if choices and self.value not in choices:
            raise self.error(f"must be one of {sorted(choices)}, not {self.value!r}")
        return self.value

    def optional_string(self) -> str | None:
        return None if self.missing or self.value is None else self.string()

    def number(
        self, *, default: float | None = None, minimum: float = 0.0, maximum: float = math.inf
    ) -> float:
        if self.missing:
            if default is None:
                raise self._required()
            return default
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"must be a number, not {_kind(value)}")
        if not math.isfinite(value) or not minimum <= value <= maximum:
            top = "" if maximum == math.inf else f" and at most {maximum:g}"
            raise self.error(f"must be at least {minimum:g}{top}, not {value!r}")
        return float(value)

    def integer(
        self, *, default: int | None = None, minimum: int = 0, maximum: int | None = None
    ) -> int:
        if self.missing:
            if default is None:
                raise self._required()
            return default
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"must be an integer, not {_kind(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            top = "" if maximum is None else f" and at most {maximum}"
            raise self.error(f"must be at least {minimum}{top}, not {value}")
        return value

    def boolean(self, *, default: bool) -> bool:
        if self.missing:
            return default
        if not isinstance(self.value, bool):
            raise self.error(f"must be true or false, not {_kind(self.value)}")
        return self.value

    def strings(self, *, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """A list of non-empty strings (a single string is one item)."""
        if self.missing:
            if default is None:
                raise self._required()
            return default
        if isinstance(self.value, str):
            return (self.string(),)
        return tuple(item.string() for item in self.items())

    def string_map(self) -> dict[str, str]:
        """A mapping of names to string values (numbers are written as text)."""
        if self.missing:
            return {}
        out: dict[str, str] = {}
        for key, value in self.mapping().items():
            item = self.child(key, value)
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise item.error(f"must be a string, not {_kind(value)}")
            out[str(key)] = str(value)
        return out

    def plain(self) -> Any:
        """The value as it is (any JSON value), or ``None`` when absent."""
        return None if self.missing else self.value

    def _required(self) -> ConfigError:
        parent = Field(self.doc, self.path[:-1], None)
        return parent.error(f"missing required field {self.path[-1]!r}")
