"""The gRPC server edge's "do not retry": ``grpc-retry-pushback-ms: -1`` on a spent call.

A call whose handler failed after a call it made downstream was spent (its retry budget
refused the retries of a dependency failing broadly, or the answer said not to retry)
ends with a negative pushback in its trailing metadata, which gRFC A6 defines as "do not
retry": only the layer right above a failing dependency retries (see
:mod:`seawall._pushback`). Whatever trailing metadata the handler set is kept.

Both run only after a failure, or after an answer when a spent call left its note.
On ``grpc.aio`` a handler's ``await context.abort(...)`` sends the status at once, before
the edge can add to it: such a handler should ``context.set_code(...)`` and return, or
let the error escape.
"""

from __future__ import annotations

from typing import Any

import grpc

from seawall._pushback import answered_spent
from seawall.grpc._status import PUSHBACK_KEY

__all__ = ["after_answer", "after_error", "refuse_retries"]

_STOP = "-1"


def refuse_retries(context: Any) -> None:
    """End the call with ``grpc-retry-pushback-ms: -1``, keeping the handler's metadata."""
    try:
        kept = tuple(
            item
            for item in context.trailing_metadata() or ()
            if str(item[0]).lower() != PUSHBACK_KEY
        )
        context.set_trailing_metadata((*kept, (PUSHBACK_KEY, _STOP)))
    except Exception:  # a context without the metadata API (a test double): nothing to add
        pass


def after_error(context: Any, error: BaseException) -> None:
    """The handler raised (or aborted): say "do not retry" if the call was spent."""
    if isinstance(error, Exception) and answered_spent(error):
        refuse_retries(context)


def after_answer(context: Any) -> None:
    """The handler returned and a spent call left its note: it counts with an error code."""
    if not answered_spent():  # read once: the thread's next call starts clean
        return
    try:
        code = context.code()
    except Exception:  # a context without code(): no error code to go with
        return
    if code is not None and code != grpc.StatusCode.OK and code != 0:
        refuse_retries(context)
