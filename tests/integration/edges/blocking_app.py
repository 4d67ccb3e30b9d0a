"""A FastAPI service whose ``def`` route blocks a worker thread for 10 s."""

from __future__ import annotations

import time

from fastapi import FastAPI

import seawall.http

api = FastAPI()


@api.get("/blocking")
def blocking() -> dict[str, bool]:
    time.sleep(10)
    return {"done": True}


app = seawall.http.protect(api, idempotency=False, shedder=False, maximum=30.0)
