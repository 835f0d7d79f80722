"""Training to convergence: early stopping on the validation objective, the best epoch's weights kept,
the plateau schedule, and the epochs actually used recorded in the run."""

from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn

from semcom_core.runs.config import load_config
from semcom_core.runs.folder import read_run
from semcom_core.runs.image import KeepBest, build_method, train_run

REPO = Path(__file__).resolve().parents[2]
SMALL = {"dataset": {"train_size": 256, "val_size": 128}, "model": {"width": 8},
         "classifier": {"depth": 8, "max_epochs": 1},
         "trainer": {"batch_size": 32, "limit_train_batches": 2, "progress_bar": False}}


def test_a_stage_that_stops_improving_stops_and_says_so(tmp_path):
    # no epoch can improve val/loss by min_delta = 1000 over the first
    cfg = load_config(REPO / "configs/semcc/fmnist/deepjscc.yaml", SMALL, {
        "trainer": {"max_epochs": 20, "patience": 2, "min_delta": 1e3}})
    run = read_run(train_run(cfg, tmp_path / "run"))
    stage = run["stages"][0]
    assert stage["epochs_run"] == 3 and stage["stopped_early"] is True    # 1 + patience epochs
    assert 1 <= stage["best_epoch"] <= 3 and stage["monitor"] == "val/loss"
    assert stage["val_metrics"]["val/loss"] == pytest.approx(stage["best"])
    assert stage["seconds"] > 0


def test_without_patience_every_epoch_runs(tmp_path):
    cfg = load_config(REPO / "configs/semcc/fmnist/deepjscc.yaml", SMALL, {"trainer": {"max_epochs": 2, "patience": None}})
    stage = read_run(train_run(cfg, tmp_path / "run"))["stages"][0]
    assert stage["epochs_run"] == 2 and "best_epoch" not in stage


def test_validation_sees_the_same_noise_every_epoch():
    cfg = load_config(REPO / "configs/semcc/fmnist/deepjscc.yaml", SMALL)
    method = build_method(cfg, (1, 28, 28)).eval()
    x, labels = torch.rand(16, 1, 28, 28), torch.zeros(16, dtype=torch.long)
    losses = []
    for _ in range(2):
        method.on_validation_epoch_start()
        with torch.no_grad():
            losses.append(float(method.training_loss(x, labels)[0]))
        method.on_validation_epoch_end()
    assert losses[0] == losses[1]
    assert torch.rand(1).item() != torch.rand(1).item()   # the training stream was given back


class _Scripted(L.LightningModule):
    """A module whose weight is the epoch number and whose val/loss follows a script."""

    def __init__(self, script):
        super().__init__()
        self.script = script
        self.w = nn.Parameter(torch.zeros(1))

    def training_step(self, batch, _):
        return (self.w * batch[0]).sum() * 0.0

    def on_train_epoch_start(self):   # the weights validated at the end of epoch e are e
        with torch.no_grad():
            self.w.fill_(self.current_epoch + 1)

    def validation_step(self, batch, _):
        self.log("val/loss", torch.tensor(self.script[self.current_epoch]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_the_best_epochs_weights_are_kept():
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 1)), batch_size=2)
    module, keep = _Scripted([3.0, 1.0, 2.0, 5.0]), KeepBest("val/loss")
    L.Trainer(max_epochs=4, callbacks=[keep], logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, num_sanity_val_steps=0).fit(module, data, data)
    assert keep.best_epoch == 2 and keep.best == 1.0
    assert float(module.w) == 2.0          # epoch 2's weight, not the last (4)


def test_the_plateau_schedule_lowers_the_learning_rate():
    cfg = load_config(REPO / "configs/semcc/fmnist/deepjscc.yaml", SMALL, {
        "optimizer": {"schedule": "plateau", "plateau_patience": 0, "gamma": 0.5, "lr": 1e-3}})
    method = build_method(cfg, (1, 28, 28))
    conf = method.configure_optimizers()
    sched = conf["lr_scheduler"]["scheduler"]
    assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) and conf["lr_scheduler"]["monitor"] == "val/loss"
    sched.step(1.0)
    sched.step(1.0)                        # no improvement, patience 0: halved
    assert conf["optimizer"].param_groups[0]["lr"] == pytest.approx(5e-4)
