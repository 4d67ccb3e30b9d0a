"""The ``seawall`` command.

Each area registers its own subcommands (``kube``, ``budget``, ...) from a private
module, imported only when the command runs, so ``seawall --help`` works even when an
optional extra is missing and a missing extra produces a message saying which one.

Exit codes, shared by every subcommand: 0 success/clean, 1 findings or a failed
hypothesis, 2 unreadable input or bad usage.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]

# subcommand -> (module, help). Each module defines ``register(subparsers)`` which adds
# its parser and sets ``func`` (args -> exit code) as the parser default.
_COMMANDS: dict[str, tuple[str, str]] = {
    "kube": ("seawall.kube._cli", "generate and lint Kubernetes manifests"),
    "budget": ("seawall.kube._budget_cli", "check timeout budgets along a call graph"),
    "proxy": ("seawall.chaos._cli", "run the fault-injection proxy"),
    "serve": ("seawall.http._cli", "serve an ASGI app with graceful shutdown"),
    "gameday": ("seawall.gameday._cli", "run the built-in game day (the main job)"),
    "experiment": ("seawall.experiment._cli", "run chaos experiments"),
    "postmortem": ("seawall.experiment._postmortem_cli", "draft a blameless postmortem"),
    "canary": ("seawall.canary._cli", "judge a canary against its baseline"),
    "sim": ("seawall.sim._cli", "simulate seawall's real policies at scale on virtual time"),
    "dashboard": ("seawall.metrics._dashboard_cli", "serve a live dashboard of several instances"),
}

# Which extra installs what a subcommand imports, for a friendly message.
_EXTRA_FOR_MODULE = {
    "uvicorn": "http",
    "httpx": "http",
    "yaml": "kube",
    "kubernetes_validate": "kube",
    "jsonschema": "kube",
    "referencing": "kube",
}


def _missing_extra(exc: ModuleNotFoundError) -> str:
    top = (exc.name or "").split(".")[0]
    extra = _EXTRA_FOR_MODULE.get(top, "all")
    return f"seawall: this command needs {top!r}: pip install 'seawall[{extra}]'"


def _version() -> str:
    try:
        return importlib.metadata.version("seawall")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="seawall", description="Make services fail well: checks, game days and tools."
    )
    parser.add_argument("--version", action="version", version=f"seawall {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in args_list if not a.startswith("-")), None)
    for name, (module, help_text) in _COMMANDS.items():
        if name == wanted:
            try:
                register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
                register = importlib.import_module(module).register
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("seawall"):
                    raise
                print(_missing_extra(exc), file=sys.stderr)
                return 2
            register(sub)
        else:
            sub.add_parser(name, help=help_text)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2 if args.command is None else 0
    return func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
