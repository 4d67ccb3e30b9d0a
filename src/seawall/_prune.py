"""Folding a compiled driver's flags: the branches a segment never takes are dropped.

:mod:`seawall._drive` writes each driver once, as a template whose branches test flags
(``RETRY``, ``BREAKER``, ...). For one segment every flag has a known value; :func:`prune`
replaces them and removes what can then never run: dead ``if`` branches, handlers that
only re-raise, a loop that runs its body once, statements after a ``raise``. Leaving
``if False:`` to the bytecode compiler would drop the code but keep every name it used
as a cell or local of the frame, set up again on every call.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["prune"]


def prune(tree: ast.Module, values: dict[str, bool]) -> ast.Module:
    """``tree`` with each flag of ``values`` folded in and its dead code removed."""
    pruned = _Prune(values).visit(tree)
    assert isinstance(pruned, ast.Module)
    return ast.fix_missing_locations(pruned)


class _Prune(ast.NodeTransformer):
    """Replace each flag by its value and drop the branches that can then never run.

    Pruning the tree (rather than leaving ``if False:`` to the bytecode compiler) also
    drops the names only dead code used, so a compiled driver's frame holds and copies
    only the cells and locals its own segment needs: less work on every call.
    """

    def __init__(self, values: dict[str, bool]) -> None:
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.values:
            return ast.copy_location(ast.Constant(self.values[node.id]), node)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and _known(node.operand) is not None:
            return ast.copy_location(ast.Constant(not _known(node.operand)), node)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        decisive = isinstance(node.op, ast.Or)  # the value that settles the whole test
        kept: list[ast.expr] = []
        for value in node.values:
            known = _known(value)
            if known is decisive:
                if not kept:
                    return ast.copy_location(ast.Constant(decisive), node)
                kept.append(value)
                break
            if known is None:
                kept.append(value)
        if not kept:
            return ast.copy_location(ast.Constant(not decisive), node)
        if len(kept) == 1:
            return kept[0]
        node.values = kept
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        known = _known(node.test)
        if known is None:
            return node
        return node.body if known else node.orelse

    def visit_If(self, node: ast.If) -> Any:
        self.generic_visit(node)
        known = _known(node.test)
        if known is None:
            return node
        return node.body if known else node.orelse

    def visit_Try(self, node: ast.Try) -> Any:
        self.generic_visit(node)
        node.finalbody = [stmt for stmt in node.finalbody if not isinstance(stmt, ast.Pass)]
        # A handler that only re-raises changes nothing.
        node.handlers = [
            handler
            for handler in node.handlers
            if not (
                len(handler.body) == 1
                and isinstance(handler.body[0], ast.Raise)
                and handler.body[0].exc is None
            )
        ]
        if not node.handlers and not node.finalbody:
            return self._block(node.body + node.orelse)
        return node

    def visit_While(self, node: ast.While) -> Any:
        self.generic_visit(node)
        # A loop whose one way on is its closing ``break`` runs its body once.
        body = node.body
        if (
            not node.orelse
            and isinstance(body[-1], ast.Break)
            and not any(_leaves(stmt) for stmt in body[:-1])
        ):
            return body[:-1] or [ast.Pass()]
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        # A bare annotation is for the type checker; it only adds a local to the frame.
        return node if node.value is not None else None

    def _block(self, block: list[ast.stmt]) -> list[ast.stmt]:
        holder = ast.Module(body=block, type_ignores=[])
        self.generic_visit(holder)
        return holder.body

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            # Statements after a raise, return, break or continue never run.
            for i, stmt in enumerate(block):
                if isinstance(stmt, (ast.Raise, ast.Return, ast.Break, ast.Continue)):
                    del block[i + 1 :]
                    break
            if field == "body" and not block:
                block.append(ast.Pass())
        return node


def _leaves(node: ast.AST) -> bool:
    """Whether ``node`` holds a break or continue of the loop around it."""
    if isinstance(node, (ast.Break, ast.Continue)):
        return True
    if isinstance(node, (ast.For, ast.While, ast.AsyncFor, ast.FunctionDef, ast.AsyncFunctionDef)):
        return False  # their own break and continue end their own loops
    return any(_leaves(child) for child in ast.iter_child_nodes(node))


def _known(node: ast.AST) -> bool | None:
    """A test's value if pruning made it a constant, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None
