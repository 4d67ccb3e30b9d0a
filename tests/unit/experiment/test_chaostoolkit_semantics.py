"""What real Chaos Toolkit experiments and extension drivers rely on: configuration and
secrets passed to functions that declare them, secrets from the environment (never in
the journal), controls, ``{type, ref}``, ``[connect, read]`` timeouts, and the runtime
strategies for rollbacks and the hypothesis - honoured, never ignored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from seawall._errors import ConfigError
from seawall.experiment import Runner, outcome, parse_experiment
from seawall.experiment._providers import HttpProvider
from seawall.testing import FakeClock
from tests.unit.experiment import probes

M = "tests.unit.experiment.probes"


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    probes.reset()
    probes.seen.clear()
    yield
    probes.reset()


def act(name: str, func: str, kind: str = "action", **extra: Any) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": M, "func": func}
    for key in ("arguments", "secrets"):
        if key in extra:
            provider[key] = extra.pop(key)
    return {"type": kind, "name": name, "provider": provider} | extra


def doc(method: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {
        "title": "ctk",
        "steady-state-hypothesis": {
            "title": "healthy",
            "probes": [act("healthy", "health", "probe", tolerance=True)],
        },
        "method": method,
        "rollbacks": [act("mend", "mend")],
    } | top


def run(
    document: dict[str, Any], environ: dict[str, str] | None = None, **options: Any
) -> dict[str, Any]:
    exp = parse_experiment(json.dumps(document), "exp.json", environ=environ or {})
    clock = FakeClock()
    journal = Runner(exp, clock=clock, wall=lambda: 1_800_000_000.0 + clock.now(), **options).run()
    json.dumps(journal)
    return journal


def test_python_functions_that_declare_configuration_receive_it() -> None:
    journal = run(
        doc(
            [act("driver", "with_configuration", arguments={"name": "driver"})],
            configuration={
                "server_url": "http://127.0.0.1:8474",
                "port": {"type": "env", "key": "P", "default": 1},
            },
        ),
        environ={"P": "9"},
    )
    assert journal["run"][0]["status"] == "succeeded", journal["run"][0]["error"]
    assert journal["run"][0]["output"] == "http://127.0.0.1:8474"
    assert probes.seen["configuration"] == {"server_url": "http://127.0.0.1:8474", "port": "9"}


def test_secrets_come_from_the_environment_by_scope_and_never_reach_the_journal() -> None:
    secrets = {
        "toxiproxy": {"token": {"type": "env", "key": "TOXI_TOKEN"}, "user": "ops"},
        "other": {"key": "not-for-this-function"},
    }
    journal = run(
        doc([act("driver", "with_secrets", secrets=["toxiproxy"])], secrets=secrets)
        | {"description": "token ${token}"},
        environ={"TOXI_TOKEN": "s3cr3t-value"},
    )
    assert journal["run"][0]["status"] == "succeeded"
    assert probes.seen["secrets"] == {"token": "s3cr3t-value", "user": "ops"}
    assert probes.seen["configuration"] == {}
    assert "s3cr3t-value" not in json.dumps(journal)
    assert journal["description"] == "token ********"


def test_a_provider_that_lists_no_secret_scope_passes_no_secrets() -> None:
    run(doc([act("driver", "with_secrets")], secrets={"s": {"k": "v"}}))
    assert probes.seen["secrets"] is None  # the function's own default, as with chaoslib


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"s": {"k": {"type": "vault", "path": "x"}}}, "'vault' secrets are not supported"),
        ({"s": {"k": {"type": "env", "key": "NOPE"}}}, "environment variable NOPE is not set"),
        ({"s": ["k"]}, "must be a mapping"),
    ],
)
def test_secrets_that_cannot_be_read_are_refused_before_the_run(
    secrets: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_experiment(json.dumps(doc([act("a", "mend")], secrets=secrets)), "e.json", environ={})


def test_controls_run_around_the_experiment_and_a_missing_one_is_a_warning() -> None:
    warnings: list[str] = []
    controls = [
        {
            "name": "recorder",
            "provider": {
                "type": "python",
                "module": "tests.unit.experiment.controls_probe",
                "arguments": {},
            },
        },
        {"name": "absent", "provider": {"type": "python", "module": "no_such_control_module"}},
    ]
    journal = run(
        doc([act("note", "note", arguments={"name": "x"})], controls=controls), warn=warnings.append
    )
    assert outcome(journal) == "completed"
    assert [w for w in warnings if "absent" in w] == [
        "warning: control 'absent': cannot import Python module 'no_such_control_module' "
        "(ModuleNotFoundError: No module named 'no_such_control_module'); "
        "the experiment carries on without it"
    ]
    recorded = [c for c in probes.calls if c.startswith("control:")]
    assert recorded[:4] == [
        "control:configure:[]",
        "control:before_experiment:ctk",
        "control:before_hypothesis:healthy",
        "control:before_activity:healthy",
    ]
    assert "control:before_method" in recorded
    assert "control:after_method:1" in recorded
    assert "control:after_rollback:" in recorded
    assert recorded[-2:] == ["control:after_experiment:completed", "control:cleanup"]


def test_a_typed_ref_reuses_the_activity_and_a_wrong_type_is_refused() -> None:
    journal = run(doc([{"type": "probe", "ref": "healthy"}]))
    assert [r["name"] for r in journal["run"]] == ["healthy"]
    with pytest.raises(ConfigError, match=r"method\[0\]\.type: must be one of \['probe'\]"):
        parse_experiment(json.dumps(doc([{"type": "action", "ref": "healthy"}])), "e.json")
    with pytest.raises(ConfigError, match="no other field than its 'type'"):
        parse_experiment(json.dumps(doc([{"name": "x", "ref": "healthy"}])), "e.json")


def test_an_http_timeout_may_be_a_connect_read_pair() -> None:
    probe = {
        "type": "probe",
        "name": "web",
        "provider": {"type": "http", "url": "http://127.0.0.1:9/", "timeout": [0.5, 3]},
    }
    exp = parse_experiment(json.dumps(doc([probe])), "e.json")
    provider = exp.method[0].provider
    assert isinstance(provider, HttpProvider)
    assert provider.timeout == (0.5, 3.0)
    probe["provider"]["timeout"] = [1, 2, 3]  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"timeout: must be seconds, or a \[connect, read\] pair"):
        parse_experiment(json.dumps(doc([probe])), "e.json")


# -- runtime strategies ------------------------------------------------------------------

FAILING = [act("fails", "fail")]  # a method action that fails: the run fails
BREAKING = [act("break", "break_it")]  # the hypothesis no longer holds: the run deviates
FINE = [act("note", "note", arguments={"name": "x"})]


@pytest.mark.parametrize(
    ("strategy", "method", "rolled_back"),
    [
        (None, FAILING, True),  # seawall's own default: always
        ("default", FAILING, False),  # chaos's default: not after a failed run
        ("default", BREAKING, True),
        ("always", FAILING, True),
        ("never", BREAKING, False),
        ("deviated", FINE, False),
        ("deviated", BREAKING, True),
    ],
)
def test_the_rollback_strategy_is_honoured_and_a_skip_is_recorded(
    strategy: str | None, method: list[dict[str, Any]], rolled_back: bool
) -> None:
    runtime = {} if strategy is None else {"runtime": {"rollbacks": {"strategy": strategy}}}
    journal = run(doc(method, **runtime))
    assert bool(journal["rollbacks"]) is rolled_back
    assert ("mend" in probes.calls) is rolled_back
    assert (journal["rollbacks_skipped"] is None) is rolled_back
    if not rolled_back:
        assert f"'{strategy}'" in journal["rollbacks_skipped"]
        assert any("rollbacks skipped" in e["message"] for e in journal["events"])


@pytest.mark.parametrize(
    ("strategy", "before", "after"),
    [
        ("default", True, True),
        ("before-method-only", True, False),
        ("after-method-only", False, True),
    ],
)
def test_the_hypothesis_strategy_chooses_the_checks(
    strategy: str, before: bool, after: bool
) -> None:
    journal = run(doc(FINE, runtime={"hypothesis": {"strategy": strategy}}))
    states = journal["steady_states"]
    assert (states["before"] is not None, states["after"] is not None) == (before, after)
    assert outcome(journal) == "completed"


def test_after_method_only_deviates_on_the_only_check() -> None:
    journal = run(doc(BREAKING, runtime={"hypothesis": {"strategy": "after-method-only"}}))
    assert journal["steady_states"]["before"] is None
    assert (journal["status"], journal["deviated"]) == ("completed", True)


@pytest.mark.parametrize(
    "runtime",
    [
        {"rollbacks": {"strategy": "sometimes"}},
        {"hypothesis": {"strategy": "continously"}},
        {"hypothesis": {"strategy": "during-method", "frequency": 0}},
        {"rollback": {}},
    ],
)
def test_an_unknown_strategy_is_refused_not_ignored(runtime: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="runtime"):
        parse_experiment(json.dumps(doc(FINE, runtime=runtime)), "e.json")


def test_a_short_secret_is_redacted_where_it_is_the_whole_value_only() -> None:
    journal = run(
        doc(FINE, secrets={"s": {"user": "ops", "token": "abcd"}})
        | {"description": "${user} stops ${token}"}
    )
    assert journal["description"] == "ops stops ********"
    assert journal["experiment"]["secrets"]["s"]["user"] == "********"


def test_controls_declared_on_an_activity_or_the_hypothesis_run_around_it_only() -> None:
    control = {
        "name": "local",
        "provider": {
            "type": "python",
            "module": "tests.unit.experiment.controls_probe",
            "arguments": {"label": ["unhashable"]},
        },
    }
    document = doc([act("note", "note", arguments={"name": "x"}) | {"controls": [control]}])
    document["steady-state-hypothesis"]["controls"] = [control]
    run(document)
    recorded = [c for c in probes.calls if c.startswith("control:")]
    # the activity's own control saw it, and no other activity; the hypothesis's saw both checks
    assert recorded.count("control:before_activity:note") == 1
    assert "control:before_activity:mend" not in recorded
    assert "control:before_experiment:ctk" not in recorded
    assert recorded.count("control:before_hypothesis:healthy") == 2  # before and after
