"""``seawall canary judge`` and ``seawall canary serve``.

Exit codes of ``judge``: 0 promote, 1 roll back, 2 bad usage or unreadable metrics.
"""

from __future__ import annotations

import argparse
import json
import sys

from seawall._errors import ConfigError
from seawall.canary._judge import judge
from seawall.canary._serve import judge_server
from seawall.canary._sources import SourceError, from_metrics, from_prometheus

__all__ = ["register"]


def _fail(message: str) -> int:
    print(f"seawall: {message}", file=sys.stderr)
    return 2


def _judge(args: argparse.Namespace) -> int:
    try:
        if args.prometheus:
            if not (args.baseline and args.canary):
                raise ConfigError("--prometheus needs --baseline and --canary label matchers")
            if args.baseline_url or args.canary_url:
                raise ConfigError("give --prometheus or --baseline-url/--canary-url, not both")
            samples = from_prometheus(
                args.prometheus,
                args.baseline,
                args.canary,
                window=args.window,
                step=args.step,
                rate_window=args.rate_window,
            )
        else:
            if not (args.baseline_url and args.canary_url):
                raise ConfigError(
                    "give --prometheus URL with --baseline/--canary, "
                    "or --baseline-url and --canary-url (the services' /metrics)"
                )
            samples = from_metrics(
                args.baseline_url, args.canary_url, samples=args.samples, interval=args.interval
            )
        judgement = judge(samples, confidence=args.confidence)
    except (ConfigError, SourceError) as exc:
        return _fail(str(exc))
    if args.format == "json":
        print(json.dumps(judgement.to_json(), indent=2))
    else:
        print(judgement.summary())
    return judgement.exit_code


def _serve(args: argparse.Namespace) -> int:
    try:
        server = judge_server(
            args.prometheus,
            args.host,
            args.port,
            confidence=args.confidence,
            window=args.window,
            step=args.step,
            rate_window=args.rate_window,
        )
    except ConfigError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    print(f"seawall canary judge on http://{args.host}:{server.server_port}", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", default="5m", help="how far back to compare (default 5m)")
    parser.add_argument("--step", default="15s", help="one sample per step (default 15s)")
    parser.add_argument(
        "--rate-window", default="1m", help="the rate() range of each sample (default 1m)"
    )
    parser.add_argument(
        "--confidence",
        type=float,
        default=0.98,
        help="confidence of the Mann-Whitney U test (default 0.98)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 2:
        raise argparse.ArgumentTypeError("needs at least 2")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be in (0, 3600] seconds")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``canary`` with its ``judge`` and ``serve`` subcommands."""
    canary = subparsers.add_parser("canary", help="judge a canary against its baseline")

    def usage(_args: argparse.Namespace) -> int:
        canary.print_help()
        return 2

    canary.set_defaults(func=usage)
    sub = canary.add_subparsers(dest="canary_command", metavar="COMMAND")

    run = sub.add_parser(
        "judge", help="compare canary and baseline once: exit 0 promote, 1 roll back"
    )
    run.add_argument("--prometheus", help="Prometheus base URL (query mode)")
    run.add_argument("--baseline", help='label matchers of the baseline, e.g. job="web"')
    run.add_argument("--canary", help='label matchers of the canary, e.g. job="web-canary"')
    run.add_argument(
        "--baseline-url", action="append", help="a baseline instance's /metrics (repeatable)"
    )
    run.add_argument(
        "--canary-url", action="append", help="a canary instance's /metrics (repeatable)"
    )
    run.add_argument(
        "--samples", type=_positive_int, default=10, help="intervals to compare (default 10)"
    )
    run.add_argument(
        "--interval", type=_seconds, default=1.0, help="seconds per interval (default 1)"
    )
    run.add_argument("--format", choices=("human", "json"), default="human")
    _window_options(run)
    run.set_defaults(func=_judge)

    serve = sub.add_parser("serve", help="answer Argo Rollouts and Flagger over HTTP")
    serve.add_argument("--prometheus", required=True, help="Prometheus base URL")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    _window_options(serve)
    serve.set_defaults(func=_serve)
