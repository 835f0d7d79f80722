"""Fitting a sweep's runs into a time budget: durations, expected run times, which run starts next."""

from __future__ import annotations

import time

import pytest

from semcom_core.cli.main import build_parser
from semcom_core.experiments.schedule import Budget, RunTimes, describe, parse_duration


@pytest.mark.parametrize("text, seconds", [("2h30m", 9000), ("90m", 5400), ("1.5h", 5400), ("45s", 45),
                                           ("5400", 5400), ("1h 5m 3s", 3903), ("2H", 7200)])
def test_durations_are_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "soon", "2d", "-5m", "0", "1m2h"])
def test_a_duration_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_the_command_line_refuses_a_bad_budget_and_a_paper_without_one(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["experiment", "semcc", "--time-budget", "soon"])
    assert "is not a duration" in capsys.readouterr().err
    args = parser.parse_args(["experiment", "mfmsc", "--time-budget", "1h"])
    assert args.time_budget == 3600
    with pytest.raises(SystemExit, match="applies to semcc and mijscc only"):
        args.func(args)


def _run(method: str, seconds: float | None, max_epochs: int = 100, epochs: int = 0) -> dict:
    return {"method": method, "seconds": seconds, "config": {"method": method, "trainer": {"max_epochs": max_epochs}},
            "stages": [{"name": "pretrain", "epochs_run": epochs // 2}, {"name": "finetune", "epochs_run": epochs - epochs // 2}]}


def test_a_runs_expected_time_is_the_median_of_its_methods_runs_under_the_same_settings():
    times = RunTimes([_run("deepjscc", 900.0), _run("deepjscc", 4000.0), _run("deepjscc", 1000.0),
                      _run("semre", 6000.0), _run("semre", 5000.0),
                      _run("semre", 2000.0, max_epochs=40), _run("semre", 2100.0, max_epochs=40),
                      _run("semre", 2200.0, max_epochs=40),
                      _run("semcc", None)])                  # no time recorded: not counted
    assert times.expected(_run("deepjscc", 0)["config"]) == 1000.0
    assert times.expected(_run("semre", 0)["config"]) == 5500.0                      # not the 40-epoch runs
    assert times.expected(_run("semre", 0, max_epochs=40)["config"]) == 2100.0
    assert times.expected(_run("semre", 0, max_epochs=7)["config"]) == 2200.0        # none so: all its runs
    assert times.expected(_run("semcc", 0)["config"]) is None
    assert times.summary([_run("semre", 0)["config"], _run("semcc", 0)["config"]]) == "semre 1 h 32 min"


def test_the_first_run_in_order_that_fits_starts_next():
    expected = {"long": 7200.0, "short": 600.0, "unknown": None}
    budget = Budget(time.time() + 3600, expected.get)
    assert budget.next_run(["long", "short", "unknown"]) == "short"     # the long one would be cut off
    assert budget.next_run(["long", "unknown"]) == "unknown"            # nothing known: it may fit
    assert budget.next_run(["long"]) is None
    assert Budget(None, expected.get).next_run(["long"]) == "long"     # no budget: everything fits
    assert Budget(time.time() - 1, expected.get).next_run(["short", "unknown"]) is None   # the time is up


def test_the_time_per_epoch_is_the_median_over_runs_that_say_their_epochs():
    times = RunTimes([_run("deepsc", 2000.0, epochs=40), _run("deepsc", 3000.0, epochs=50),
                      _run("deepsc", 900.0, epochs=10), _run("deepsc", 5000.0)])      # no epochs: not counted
    assert times.seconds_per_epoch(_run("deepsc", 0)["config"]) == 60.0
    assert times.seconds_per_epoch(_run("semcc", 0)["config"]) is None


def test_a_slower_machine_measured_on_a_finished_run_stops_a_run_that_no_longer_fits(capsys):
    expected, spent = {"a": 1000.0, "b": 1000.0, "c": None}, {"a": 0.0, "b": 800.0, "c": 0.0}
    budget = Budget(time.time() + 1500, expected.get, spent=spent.get, per_epoch=lambda key: 10.0)
    assert budget.next_run(["a"]) == "a" and budget.expected_left("b") == 200.0
    budget.observe("a", _run("deepsc", 2000.0, epochs=100))            # 20 s an epoch here, 10 s in the ledger
    assert budget.pace == 2.0 and "2.00x the ledger's time per epoch" in capsys.readouterr().out
    assert budget.next_run(["a", "b", "c"]) == "b"                      # a: 2000 s; b: 2000 - 800 s spent
    budget.observe("b", _run("deepsc", 500.0, epochs=100))              # paces 2 and 0.5: their median
    assert budget.pace == 1.25 and "(median of 2 runs of this call)" in capsys.readouterr().out
    budget.observe("c", {"seconds": 100.0, "stages": []})               # no epochs: tells nothing
    assert budget.pace == 1.25
    unbudgeted = Budget(None, expected.get, per_epoch=lambda key: 10.0)
    unbudgeted.observe("a", _run("deepsc", 2000.0, epochs=100))         # no budget: nothing to say
    assert unbudgeted.pace == 1.0 and capsys.readouterr().out == ""


def test_durations_are_described_in_hours_and_minutes():
    assert describe(3900) == "1 h 05 min" and describe(720) == "12 min" and describe(10) == "0 min"
