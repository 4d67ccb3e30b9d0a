"""Folding flags into a driver template: dead branches go, live code stays as written."""

from __future__ import annotations

import ast
import itertools
import random
import textwrap

import pytest

from seawall import _drive
from seawall._prune import prune

SNIPPET = textwrap.dedent(
    """
    def run(x):
        note: int
        while True:
            try:
                if A and x:
                    x += 1
                elif not B:
                    x -= 1
                y = 2 if A else 3
            except ValueError:
                if not A:
                    raise
                x = 0
            finally:
                if B:
                    x *= 10
            break
        return x, y
    """
)


def pruned(a: bool, b: bool) -> str:
    return ast.unparse(prune(ast.parse(SNIPPET), {"A": a, "B": b}))


def test_dead_branches_single_pass_loops_and_bare_reraises_are_dropped() -> None:
    assert pruned(False, True) == textwrap.dedent(
        """\
        def run(x):
            try:
                y = 3
            finally:
                x *= 10
            return (x, y)"""
    )


def test_live_branches_keep_their_unknown_tests() -> None:
    code = pruned(True, False)
    assert "if x:" in code
    assert "x -= 1" in code
    assert "except ValueError:" in code
    assert "while" not in code
    assert "finally" not in code


@pytest.mark.parametrize("template", sorted(_drive._SOURCES))
def test_flag_combinations_of_the_drivers_compile(template: str) -> None:
    # All off, all on, and a fixed sample of the rest (every one would take seconds).
    source = _drive._SOURCES[template]
    combos = list(itertools.product((False, True), repeat=len(_drive._FLAGS)))
    for flags in [combos[0], combos[-1], *random.Random(0).sample(combos, 24)]:
        tree = prune(ast.parse(source), dict(zip(_drive._FLAGS, flags, strict=True)))
        compile(tree, "<pruned>", "exec")
