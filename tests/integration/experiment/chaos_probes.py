"""Probes and actions for the experiments run by the real ``chaos run`` in the tests: a
flag file stands for the system's health."""

from __future__ import annotations

import os


def healthy(path: str) -> bool:
    return not os.path.exists(path)


def strict_health(path: str) -> bool:
    if os.path.exists(path):
        raise ConnectionError("connection refused")
    return True


def break_it(path: str) -> None:
    with open(path, "w"):
        pass


def mend(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)


def noop() -> None:
    return None


def explode() -> None:
    raise ConnectionError("connection refused")
