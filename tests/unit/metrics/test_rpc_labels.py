"""gRPC duration labels stay bounded whatever method paths callers send."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawall import _durations
from seawall._durations import RPC_OTHER, rpc_labels


def test_a_method_path_is_split_into_service_and_method() -> None:
    assert rpc_labels("/demo.Greeter/Hello") == ("demo.Greeter", "Hello")


@pytest.mark.parametrize("path", ["", "/", "/only", "//Hello", "/svc/", "/a/b/c", "nope"])
def test_a_path_of_another_form_is_other(path: str) -> None:
    assert rpc_labels(path) == (RPC_OTHER, RPC_OTHER)


def test_new_paths_past_the_cap_are_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_durations, "_rpc_methods", {})
    monkeypatch.setattr(_durations, "MAX_METHODS", 2)
    assert rpc_labels("/s/A") == ("s", "A")
    assert rpc_labels("/s/B") == ("s", "B")
    assert rpc_labels("/s/C") == (RPC_OTHER, RPC_OTHER)
    assert rpc_labels("/s/A") == ("s", "A")  # a known path keeps its labels


@given(st.text(max_size=40))
def test_any_path_gives_two_labels_and_never_raises(path: str) -> None:
    # The process's known paths are restored after: random ones must not fill the cap.
    with mock.patch.dict(_durations._rpc_methods):
        service, method = rpc_labels(path)
        assert service
        assert method
        assert len(_durations._rpc_methods) <= _durations.MAX_METHODS
