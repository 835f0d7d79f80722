"""`semcom bench train-step` runs every method and stage in float32 and in bfloat16 autocast, eager or compiled."""

import pytest

from semcom_core.experiments.bench import bench_train_step
from semcom_core.runs.config import ConfigError


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


def test_the_compiled_loss_is_timed_after_its_compilation(monkeypatch):
    rows = bench_train_step({"deepsc": "configs/semcc/fmnist/deepsc.yaml"}, batch_size=8, steps=1, warmup=0,
                            compile=True)
    assert [(r["method"], r["compile"]) for r in rows] == [("deepsc", True)] and rows[0]["images_per_s"] > 0
    monkeypatch.setenv("CXX", "no-such-compiler")        # torch.compile's CPU backend cannot build: refused first
    with pytest.raises(ConfigError, match="no-such-compiler"):
        bench_train_step({"deepsc": "configs/semcc/fmnist/deepsc.yaml"}, steps=1, compile=True)
