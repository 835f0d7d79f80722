"""The claims rule: "beats" needs a lead beyond the seeds' spread and the test set's resolution; "close"
a gap within 1 dB / 0.03 either way, "keeps up" only behind; a missing point is "not measured"."""

import pytest

from semcom_core.experiments.claims import claim_row, claims_markdown, resolution, stats_of


def _records(method, values, metric="accuracy", **point):
    return [{"method": method, "seed": s, metric: v, **point} for s, v in enumerate(values)]


def _verdict(a_values, b_values, **point):
    records = _records("a", a_values, **point) + _records("b", b_values, **point)
    return claim_row("", "", "A", stats_of(records, "accuracy", method="a"), "B",
                     stats_of(records, "accuracy", method="b"), "accuracy")["verdict"]


def test_stats_over_seeds():
    st = stats_of(_records("a", [0.80, 0.84, 0.82], snr_db=20.0) + _records("b", [0.1], snr_db=20.0), "accuracy",
                  method="a", snr_db=20.0)
    assert st.n == 3 and abs(st.mean - 0.82) < 1e-12 and abs(st.std - (0.0008 / 3) ** 0.5) < 1e-12
    assert stats_of([], "accuracy", method="a") is None


def test_a_lead_within_the_spread_does_not_beat():
    records = _records("a", [0.80, 0.86]) + _records("b", [0.81, 0.81])   # a: 0.83 ± 0.03, b: 0.81
    row = claim_row("a beats b", "Fig. 1", "A", stats_of(records, "accuracy", method="a"), "B",
                    stats_of(records, "accuracy", method="b"), "accuracy")
    assert row["verdict"] == "does not hold" and "± 3.0 %" in row["ours"]
    records = _records("a", [0.85, 0.86]) + _records("b", [0.81, 0.81])   # 0.855 ± 0.005 vs 0.81
    assert claim_row("", "", "A", stats_of(records, "accuracy", method="a"), "B",
                     stats_of(records, "accuracy", method="b"), "accuracy")["verdict"] == "holds"


def test_one_seed_needs_more_than_the_resolution():
    a, b = stats_of(_records("a", [0.845]), "accuracy"), stats_of(_records("b", [0.840]), "accuracy")
    assert claim_row("", "", "A", a, "B", b, "accuracy")["verdict"] == "does not hold"
    p, q = stats_of(_records("a", [19.0], "psnr"), "psnr"), stats_of(_records("b", [18.85], "psnr"), "psnr")
    assert claim_row("", "", "A", p, "B", q, "psnr")["verdict"] == "holds"
    assert claim_row("", "", "A", p, "B", q, "psnr", want="close")["verdict"] == "holds"
    far = stats_of(_records("b", [17.5], "psnr"), "psnr")
    assert claim_row("", "", "A", p, "B", far, "psnr", want="close")["verdict"] == "does not hold"


def test_keeping_up_is_one_sided():
    """"Keeps up": level within the closeness margin, or ahead by any amount; only falling behind fails it."""
    ahead, level = stats_of(_records("a", [21.0], "psnr"), "psnr"), stats_of(_records("a", [18.5], "psnr"), "psnr")
    behind, ref = stats_of(_records("a", [17.5], "psnr"), "psnr"), stats_of(_records("b", [19.0], "psnr"), "psnr")
    verdict = lambda a, want: claim_row("", "", "A", a, "B", ref, "psnr", want=want)["verdict"]  # noqa: E731
    assert [verdict(a, "keeps up") for a in (ahead, level, behind)] == ["holds", "holds", "does not hold"]
    assert [verdict(a, "close") for a in (ahead, level, behind)] == ["does not hold", "holds", "does not hold"]
    with pytest.raises(ValueError, match="want must be one of"):
        verdict(ahead, "about")


def test_missing_points_are_not_measured():
    row = claim_row("a beats b", "Fig. 1", "A", None, "B", stats_of(_records("b", [0.5]), "accuracy"), "accuracy")
    assert row["verdict"] == "not measured"
    assert "| a beats b | Fig. 1 | - | not measured |  |" in claims_markdown([row])


def test_the_reason_is_asked_only_where_the_claim_does_not_hold():
    records = _records("a", [0.80, 0.86]) + _records("b", [0.81, 0.81]) + _records("c", [0.95])
    st = lambda m: stats_of(records, "accuracy", method=m)  # noqa: E731
    asked = []
    why = lambda: asked.append(1) or "the ablation says so"  # noqa: E731
    fails = claim_row("a beats b", "Fig. 1", "A", st("a"), "B", st("b"), "accuracy", reason=why)
    holds = claim_row("c beats b", "Fig. 1", "C", st("c"), "B", st("b"), "accuracy", reason=why)
    assert fails["reason"] == "the ablation says so" and holds["reason"] == "" and len(asked) == 1
    assert claims_markdown([fails]).endswith("| does not hold | the ablation says so |")


def test_the_accuracy_resolution_follows_the_test_set_size():
    """A 0.85-point lead, well beyond the seeds' spread: resolved on 10 000 test images (binomial standard error
    of the difference 0.44 points), not on 2000 (0.99 points), nor where the size is not recorded (1 point)."""
    lead = ([0.895, 0.896, 0.894], [0.887, 0.886, 0.888])
    assert _verdict(*lead, samples=10000) == "holds"
    assert _verdict(*lead, samples=2000) == "does not hold"
    assert _verdict(*lead) == "does not hold"
    a = stats_of(_records("a", [0.89], samples=10000), "accuracy")
    b = stats_of(_records("b", [0.89], samples=10000) + [{"method": "b", "accuracy": 0.89}], "accuracy")
    assert a.samples == 10000 and b.samples is None
    assert abs(resolution(a, a, "accuracy") - (2 * 0.89 * 0.11 / 10000) ** 0.5) < 1e-12
    assert resolution(a, b, "accuracy") == 0.01 and resolution(a, a, "psnr") == 0.1
