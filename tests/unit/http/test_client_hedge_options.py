"""The ``hedge`` option on the requests and aiohttp integrations: taken, or refused clearly."""

from __future__ import annotations

import pytest

import seawall
from seawall.aiohttp import Middleware
from seawall.requests import Session


def test_a_requests_session_hedges_the_hosts_named_and_checks_their_options() -> None:
    with Session(hedge={"api.internal": {"delay": 0.05, "budget": False}}) as session:
        hedge = session.hedge_for("http://api.internal/charge")
        assert isinstance(hedge, seawall.Hedge)
        assert hedge.delay == 0.05
        assert session.hedge_for("http://other.internal/") is None
    with pytest.raises(seawall.ConfigError, match=r"hedge\['api.internal'\]: .*delay"):
        Session(hedge={"api.internal": {"delay": "p100"}})


def test_aiohttp_refuses_the_hedge_option_and_says_why() -> None:
    with pytest.raises(seawall.ConfigError, match=r"not on seawall\.aiohttp"):
        Middleware(hedge={"api.internal": {"delay": 0.05}})
