"""Real gunicorn (2 gthread workers) serving a real Flask app and a real Django app.

Both apps are written here, each wrapped by ``seawall.wsgi.protect`` with the same
options, and served with the shipped config module ``python:seawall.wsgi.gunicorn``.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from tests.integration.conftest import need

COMMON = """
import json, os, time
import seawall
from seawall import LoadShedder
from seawall.stores import SQLiteStore
from seawall.wsgi import protect

EFFECTS = os.environ["SEAWALL_TEST_EFFECTS"]

def budget():
    return json.dumps({"remaining": seawall.remaining(), "pid": os.getpid()})

def slow(ms):
    time.sleep(ms / 1000)
    return "done"

def order(body):
    with open(EFFECTS, "a") as f:  # the side effect that must happen once
        f.write(f"{os.getpid()}\\n")
    return json.dumps({"order": os.urandom(8).hex(), "pid": os.getpid(), "body": body})

def wrap(app):
    return protect(
        app,
        maximum=5.0,
        shedder=LoadShedder("http", limit=4, max_queue=0),
        idempotency=SQLiteStore(os.environ["SEAWALL_TEST_DB"]),
    )
"""

FLASK_APP = """
from flask import Flask, request
from common import budget, slow, order, wrap

flask_app = Flask(__name__)

@flask_app.get("/budget")
def get_budget():
    return budget(), 200, {"Content-Type": "application/json"}

@flask_app.get("/slow")
def get_slow():
    return slow(int(request.args["ms"]))

@flask_app.post("/orders")
def post_order():
    return order(request.get_data(as_text=True)), 201, {"Content-Type": "application/json"}

app = wrap(flask_app)
"""

DJANGO_SETTINGS = """
SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "djangoapp"
INSTALLED_APPS = []
MIDDLEWARE = []
USE_TZ = True
"""

DJANGO_APP = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangosettings")
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from common import budget, slow, order, wrap

def get_budget(request):
    return HttpResponse(budget(), content_type="application/json")

def get_slow(request):
    return HttpResponse(slow(int(request.GET["ms"])))

@csrf_exempt
def post_order(request):
    return HttpResponse(order(request.body.decode()), status=201, content_type="application/json")

urlpatterns = [path("budget", get_budget), path("slow", get_slow), path("orders", post_order)]

app = wrap(get_wsgi_application())
"""

MODULES = {"flask": "flaskapp:app", "django": "djangoapp:app"}


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    root: Path
    log: IO[bytes]

    @property
    def effects(self) -> Path:
        return self.root / "effects.log"

    @property
    def access_log(self) -> Path:
        return self.root / "access.log"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        timeout: float = 5.0,
        **headers: str,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection (as a load balancer's would be)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, headers, response.read()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # quick shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(root: Path, kind: str, *, drain: float = 5.0, grace: float = 20.0) -> Gunicorn:
    try:
        import django  # noqa: F401
        import flask  # noqa: F401
        import gunicorn  # noqa: F401
    except ImportError as exc:
        need(False, f"{exc.name} is not installed (pip install -e '.[wsgi,dev]')")
    root.mkdir(parents=True, exist_ok=True)
    (root / "common.py").write_text(textwrap.dedent(COMMON))
    (root / "flaskapp.py").write_text(textwrap.dedent(FLASK_APP))
    (root / "djangosettings.py").write_text(textwrap.dedent(DJANGO_SETTINGS))
    (root / "djangoapp.py").write_text(textwrap.dedent(DJANGO_APP))
    port = _free_port()
    log = open(root / "gunicorn.log", "wb")  # noqa: SIM115 (closed by Gunicorn.stop)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), *sys.path]),
        "SEAWALL_TEST_DB": str(root / "keys.db"),
        "SEAWALL_TEST_EFFECTS": str(root / "effects.log"),
        "SEAWALL_DRAIN_SECONDS": str(drain),
        "SEAWALL_GRACEFUL_SECONDS": str(grace),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:seawall.wsgi.gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--access-logfile",
            str(root / "access.log"),
            "--access-logformat",
            "%(p)s %(m)s %(U)s %(s)s",
            "--chdir",
            str(root),
            MODULES[kind],
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    server = Gunicorn(process, port, root, log)
    deadline = time.monotonic() + 20
    while True:
        try:
            if server.request("GET", "/readyz", timeout=1)[0] == 200:
                # Both workers booted: each one imports the app itself.
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            log = (root / "gunicorn.log").read_text(errors="replace")
            need(False, f"gunicorn did not start: {log[-2000:]}")
        time.sleep(0.05)
    return server


@pytest.fixture(scope="session", params=["flask", "django"])
def gunicorn_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    """One gunicorn per app for the session."""
    server = start_gunicorn(tmp_path_factory.mktemp(f"wsgi-{request.param}"), request.param)
    yield server
    server.stop()


@pytest.fixture
def fresh_gunicorn(tmp_path: Path) -> Iterator[Callable[..., Gunicorn]]:
    """A gunicorn of its own, for a test that stops it."""
    made: list[Gunicorn] = []

    def make(kind: str, **kwargs: float) -> Gunicorn:
        made.append(start_gunicorn(tmp_path / kind, kind, **kwargs))
        return made[-1]

    yield make
    for server in made:
        server.stop()
