"""Training-step throughput of each method on the same batch: what the contrastive losses cost."""

from __future__ import annotations

import time

import torch

from ..runs.config import load_config
from ..data import dataset_info
from ..models import build_model

DEFAULT_CONFIGS = {m: f"configs/semcc/fmnist/{m}.yaml" for m in ("deepjscc", "deepsc", "semcc", "semre")}


#: precision name (as Lightning's ``trainer.precision``) -> autocast dtype (None: full float32)
PRECISIONS = {"32-true": None, "bf16-mixed": torch.bfloat16}


def _step_fn(method, x, labels, precision: str = "32-true"):
    optimizer = torch.optim.Adam(method.trainable_parameters(), lr=1e-4)
    dtype = PRECISIONS[precision]

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss, _ = method.training_loss(x, labels)
        loss.backward()
        optimizer.step()
    return step


def bench_train_step(configs: dict | None = None, ratio: str = "1/24", batch_size: int = 128, steps: int = 20,
                     warmup: int = 3, device: str = "cpu", seed: int = 0, precision: str = "32-true",
                     compile: bool = False) -> list[dict]:
    """Images per second of one optimiser step (forward, loss, backward, update) for each method and stage,
    in ``precision`` ("32-true" or "bf16-mixed", the autocast Lightning's bf16-mixed uses); with ``compile``
    the loss runs through ``torch.compile`` as ``trainer.compile: true`` does, compiled in the warm-up steps
    (at least one), so the timed steps leave compilation out."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    from ..runs.image import build_method, check_compile, classifier_spec

    check_compile({"accelerator": "cuda" if device.startswith("cuda") else "cpu", "compile": compile})
    warmup = max(warmup, 1) if compile else warmup

    torch.manual_seed(seed)
    results = []
    for name, path in (configs or DEFAULT_CONFIGS).items():
        cfg = load_config(path, {"ratio": ratio})
        info = dataset_info(cfg["dataset"]["name"])
        method = build_method(cfg, info["image_shape"])
        method.attach_downstream(build_model(classifier_spec(cfg, info["image_shape"], info["num_classes"])))
        method.to(device).train()
        if compile:
            method.compile_loss()
        x = torch.rand(batch_size, *info["image_shape"], device=device)
        labels = torch.randint(0, info["num_classes"], (batch_size,), device=device)
        for stage in method.stages():
            method.stage = stage.name
            step = _step_fn(method, x, labels, precision)
            for _ in range(warmup):
                step()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            started = time.perf_counter()
            for _ in range(steps):
                step()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            seconds = (time.perf_counter() - started) / steps
            results.append({"method": name, "stage": stage.name, "k": method.transceiver.k,
                            "batch_size": batch_size, "ms_per_step": 1000 * seconds,
                            "images_per_s": batch_size / seconds, "device": device, "precision": precision,
                            "compile": compile, "threads": torch.get_num_threads()})
    reference = next((r["images_per_s"] for r in results if r["method"] == "deepjscc"), None)
    for r in results:
        r["relative_to_deepjscc"] = r["images_per_s"] / reference if reference else None
    return results
