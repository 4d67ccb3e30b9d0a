"""The WSGI server edge: deadlines, shedding, probes, idempotency for Flask, Django, any WSGI app.

``seawall.wsgi.protect(app)`` is :func:`seawall.http.protect` for thread-based servers
(gunicorn, uWSGI, mod_wsgi, waitress). ``gunicorn -c python:seawall.wsgi.gunicorn`` adds
graceful shutdown: readiness fails on SIGTERM, the server drains, then stops.
"""

from seawall.wsgi._edge import WSGIEdge
from seawall.wsgi._keyed import WSGIPrincipal
from seawall.wsgi._protect import protect

__all__ = ["WSGIEdge", "WSGIPrincipal", "protect"]
