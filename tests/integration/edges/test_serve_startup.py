"""``seawall serve`` starts like uvicorn, and refuses what can never serve: real processes.

Each app lives in a module in the test's own directory, which is the process's current
directory and is *not* on PYTHONPATH: ``seawall serve`` must find it as uvicorn does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.edges.conftest import free_port

ASGI = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"from the current directory"})
"""

LIFESPAN_FAILS = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
"""

MODULES = {
    "service.py": ASGI + "settings = {'debug': False}\n",
    "no_database.py": LIFESPAN_FAILS,
    "broken.py": "import json\nconfig = json.loads('{not json')\n",
    "flask_like.py": (
        "class Flask:\n"
        "    def __call__(self, environ, start_response):\n"
        "        return []\n"
        "app = Flask()\n"
    ),
}


def seawall_serve(cwd: Path, *args: str) -> subprocess.Popen[str]:
    # The console script, as users run it: ``python -m`` would put the current directory
    # on sys.path by itself.
    script = Path(sys.executable).with_name("seawall")
    assert script.exists(), f"{script} is missing: pip install -e ."
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.Popen(
        [str(script), "serve", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("project")
    for name, text in MODULES.items():
        (directory / name).write_text(text)
    return directory


def test_the_app_is_imported_from_the_current_directory(project: Path) -> None:
    port = free_port()
    proc = seawall_serve(project, "service:app", "--port", str(port), "--drain-delay", "0")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "did not start"
                time.sleep(0.05)
        assert answer.text == "from the current directory"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("service:settings", "service:settings must be an ASGI app"),
        ("service:nothing", "module 'service' has no attribute 'nothing'"),
        ("flask_like:app", "is a WSGI app (it takes environ, start_response)"),
        ("broken:app", "cannot import 'broken': "),
        ("missing:app", "cannot import 'missing': no module 'missing'"),
    ],
)
def test_an_app_that_cannot_serve_is_refused_in_one_line(
    project: Path, target: str, message: str
) -> None:
    proc = seawall_serve(project, target, "--port", str(free_port()))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2, err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert message in err
    if target == "broken:app":
        assert "broken.py:2: JSONDecodeError" in err, err


def test_an_app_whose_start_up_fails_exits_3(project: Path) -> None:
    proc = seawall_serve(project, "no_database:app", "--port", str(free_port()))
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 3, err
    assert "database unreachable" in err
