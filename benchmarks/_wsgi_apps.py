"""The WSGI apps ``wsgi_overhead.py`` serves: one trivial endpoint, bare and protected."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import seawall.wsgi

BODY = b"ok"


def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [BODY]


protected = seawall.wsgi.protect(bare)
