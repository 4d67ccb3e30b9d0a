"""``seawall proxy``: run the fault-injection proxy and its Toxiproxy-compatible API.

Exit codes: 0 stopped cleanly (SIGINT/SIGTERM) or ``--check`` passed; 2 an unreadable or
invalid config file or flag (the message names the file or flag and the field), or an
address that cannot be bound.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
from dataclasses import replace

from seawall._errors import ConfigError
from seawall.chaos._server import DEFAULT_API_PORT, ProxyServer
from seawall.chaos._spec import FieldError, ProxyConfig, Toxic, load_config

__all__ = ["register"]

_DESCRIPTION = """\
Run TCP proxies that inject faults (Toxiproxy's toxics), driven by a control API
compatible with Toxiproxy's REST API, so existing Toxiproxy clients work unchanged.

examples:
  seawall proxy --proxy redis 127.0.0.1:26379 127.0.0.1:6379
  seawall proxy --config proxies.json --toxic redis:latency:latency=100,jitter=10
  seawall proxy --config proxies.yaml --check
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "proxy",
        help="run the fault-injection proxy",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-c", "--config", help="proxies: Toxiproxy's JSON list of proxies, or the same in YAML"
    )
    parser.add_argument(
        "--proxy",
        nargs=3,
        action="append",
        default=[],
        metavar=("NAME", "LISTEN", "UPSTREAM"),
        help="a proxy (repeatable), e.g. redis 127.0.0.1:26379 127.0.0.1:6379",
    )
    parser.add_argument(
        "--toxic",
        action="append",
        default=[],
        metavar="PROXY:TYPE[:KEY=VALUE,...]",
        help="a toxic on a proxy (repeatable); keys: stream, toxicity, name, and the "
        "type's attributes, e.g. redis:latency:latency=100,jitter=10,stream=upstream",
    )
    parser.add_argument("--host", default="127.0.0.1", help="control API host (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_API_PORT, help=f"control API port ({DEFAULT_API_PORT})"
    )
    parser.add_argument("--seed", type=int, help="seed toxicity, jitter and slicing")
    parser.add_argument(
        "--check", action="store_true", help="validate the configuration, print it, and exit"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="unknown fields in the config file and in control API requests are errors "
        "(default: ignored with a warning, as Toxiproxy ignores them)",
    )
    parser.set_defaults(func=_run)


def _fail(message: str) -> int:
    print(f"seawall: {message}", file=sys.stderr)
    return 2


def parse_toxic_flag(text: str) -> tuple[str, Toxic]:
    """``PROXY:TYPE[:KEY=VALUE,...]`` as (proxy name, toxic)."""
    parts = text.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise FieldError("", "expected PROXY:TYPE[:KEY=VALUE,...]")
    proxy, toxic_type = parts[0], parts[1]
    body: dict[str, object] = {"type": toxic_type}
    attributes: dict[str, object] = {}
    for item in parts[2].split(",") if len(parts) == 3 and parts[2] else []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise FieldError(item, "expected KEY=VALUE")
        value = value.strip()
        if key in ("stream", "name"):
            body[key] = value
        elif key == "toxicity":
            try:
                body[key] = float(value)
            except ValueError:
                raise FieldError("toxicity", f"{value!r} is not a number") from None
        else:
            try:
                attributes[key] = int(value)
            except ValueError:
                raise FieldError(f"attributes.{key}", f"{value!r} is not an integer") from None
    body["attributes"] = attributes
    return proxy, Toxic.from_json(body)


def _configs(args: argparse.Namespace) -> list[ProxyConfig]:
    proxies = load_config(args.config, strict=args.strict) if args.config else []
    names = {p.name for p in proxies}
    for name, listen, upstream in args.proxy:
        try:
            config = ProxyConfig(name=name, listen=listen, upstream=upstream)
        except FieldError as exc:
            raise ConfigError(f"--proxy {name}: {exc}") from None
        if name in names:
            raise ConfigError(f"--proxy {name}: name: duplicate proxy name")
        names.add(name)
        proxies.append(config)
    for flag in args.toxic:
        try:
            proxy_name, toxic = parse_toxic_flag(flag)
        except FieldError as exc:
            raise ConfigError(f"--toxic {flag!r}: {exc}") from None
        for i, config in enumerate(proxies):
            if config.name == proxy_name:
                try:
                    proxies[i] = replace(config, toxics=(*config.toxics, toxic))
                except FieldError as exc:
                    raise ConfigError(f"--toxic {flag!r}: {exc}") from None
                break
        else:
            raise ConfigError(f"--toxic {flag!r}: no proxy named {proxy_name!r}")
    return proxies


def _describe(proxy: dict[str, object]) -> str:
    state = "enabled" if proxy["enabled"] else "disabled"
    toxics = proxy["toxics"]
    names = ", ".join(str(t["name"]) for t in toxics) if isinstance(toxics, list) else ""
    return (
        f"proxy {proxy['name']} listening on {proxy['listen']} -> {proxy['upstream']} "
        f"({state}{'; toxics: ' + names if names else ''})"
    )


async def _serve(server: ProxyServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with server:
            print(f"seawall proxy: control API on {server.url}", flush=True)
            for proxy in server.proxies().values():
                print(f"seawall proxy: {_describe(proxy)}", flush=True)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _run(args: argparse.Namespace) -> int:
    try:
        proxies = _configs(args)
    except ConfigError as exc:
        return _fail(str(exc))
    if not 0 <= args.port <= 65535:
        return _fail(f"--port {args.port}: out of range")
    if args.check:
        for config in proxies:
            print(f"seawall proxy: {_describe(config.to_json())}")
        return 0
    rng = random.Random(args.seed) if args.seed is not None else None
    server = ProxyServer(args.host, args.port, proxies=proxies, rng=rng, strict=args.strict)
    try:
        asyncio.run(_serve(server))
    except ConfigError as exc:  # a proxy's listen address could not be bound
        return _fail(str(exc))
    except OSError as exc:
        return _fail(
            f"cannot serve the control API on {args.host}:{args.port}: {exc.strerror or exc}"
        )
    return 0
