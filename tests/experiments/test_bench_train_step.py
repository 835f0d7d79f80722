"""`semcom bench train-step` runs every method and stage in float32 and in bfloat16 autocast."""

import pytest

from semcom_core.experiments.bench import bench_train_step


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_every_method_and_stage_is_timed(precision):
    rows = bench_train_step(batch_size=8, steps=1, warmup=0, precision=precision)
    assert [(r["method"], r["stage"]) for r in rows] == [("deepjscc", "train"), ("deepsc", "train"),
                                                         ("semcc", "pretrain"), ("semcc", "finetune"),
                                                         ("semre", "train")]
    assert all(r["images_per_s"] > 0 and r["precision"] == precision for r in rows)
    assert rows[0]["relative_to_deepjscc"] == 1.0


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="bf16-mixed"):
        bench_train_step(precision="fp8")
