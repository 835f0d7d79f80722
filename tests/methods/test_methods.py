"""The JSCC methods: SemCC's stages and its frozen classifier, DeepSC's loss (eq. 11), SemRE's re-encoder
and soft update (eq. 14), that every method learns, and that bad configs fail before any training."""

from __future__ import annotations

import subprocess
import sys
import time

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from semcom_core.runs.config import ConfigError, load_config
from semcom_core.methods import AMIJSCC, METHODS, MIJSCC, DeepJSCC, DeepSC, SemCC, SemRE, Stage
from semcom_core.models import build_model

SHAPE = (1, 28, 28)
RATIO = 1 / 24
N = 784
FINETUNE = {"epochs": 1, "lr": 1e-4, "step_epochs": 1, "gamma": 0.5}


def _classifier(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model({"arch": "resnet_cifar", "depth": 8, "in_channels": 1, "num_classes": 10})


def _data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *SHAPE, generator=g), torch.randint(0, 10, (n,), generator=g)


def _method(cls, seed: int = 0, snr=(10.0, 10.0), loss: dict | None = None, **kwargs):
    torch.manual_seed(seed)
    loss = {"alpha": "ratio", "alpha2": "ratio", "tau": 0.1, **(loss or {})}
    return cls(SHAPE, RATIO, width=8, channel={"name": "awgn"}, train_snr_db=snr, epochs=1, loss=loss, **kwargs)


def _state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _fit(method, epochs: int = 1, batches: int = 3) -> None:
    x, y = _data(48)
    train = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[:16], y[:16]), batch_size=16)
    trainer = L.Trainer(max_epochs=epochs, limit_train_batches=batches, limit_val_batches=1, accelerator="cpu",
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(method, train, val)


# --- SemCC ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["pretrain", "finetune"])
def test_semcc_fit_leaves_classifier_untouched(stage):
    method = _method(SemCC, finetune=FINETUNE)
    classifier = _classifier()
    method.attach_downstream(classifier)
    method.stage = stage
    classifier_before = _state(classifier)
    encoder_before = _state(method.transceiver.encoder)
    decoder_before = _state(method.transceiver.decoder)
    projection_before = _state(method.projection)

    method.train()  # as a module left in training mode by an earlier stage would be
    _fit(method)

    for name, value in classifier.state_dict().items():  # weights and BatchNorm statistics alike
        assert torch.equal(value, classifier_before[name]), f"classifier {name} changed in stage {stage}"
    assert all(not p.requires_grad for p in classifier.parameters())
    assert any(not torch.equal(v, encoder_before[k]) for k, v in method.transceiver.encoder.state_dict().items())
    assert any(not torch.equal(v, decoder_before[k]) for k, v in method.transceiver.decoder.state_dict().items())
    projection_changed = any(not torch.equal(v, projection_before[k]) for k, v in method.projection.state_dict().items())
    assert projection_changed == (stage == "pretrain")

    method.train()
    assert method.transceiver.training
    assert not any(m.training for m in classifier.modules())


def test_semcc_trainable_parameters_follow_stage():
    method = _method(SemCC, finetune=FINETUNE)
    method.attach_downstream(_classifier())
    projection = {id(p) for p in method.projection.parameters()}
    transceiver = {id(p) for p in method.transceiver.parameters()}
    method.stage = "pretrain"
    assert {id(p) for p in method.trainable_parameters()} == projection | transceiver
    method.stage = "finetune"
    assert {id(p) for p in method.trainable_parameters()} == transceiver


def test_semcc_stages():
    method = _method(SemCC, lr=2e-3, step_epochs=7, gamma=0.3,
                     finetune={"epochs": 4, "lr": 5e-5, "step_epochs": 2, "gamma": 0.1})
    assert method.stages() == [Stage("pretrain", 1, 2e-3, 7, 0.3), Stage("finetune", 4, 5e-5, 2, 0.1)]
    assert method.stage == "pretrain"
    method.stage = "finetune"
    assert method.current_stage().lr == 5e-5
    method.attach_downstream(_classifier())
    optim = method.configure_optimizers()
    assert optim["optimizer"].param_groups[0]["lr"] == 5e-5
    assert optim["lr_scheduler"].step_size == 2 and optim["lr_scheduler"].gamma == 0.1

    no_ft = _method(SemCC, finetune={"epochs": 0, "lr": 1e-4})
    assert [s.name for s in no_ft.stages()] == ["pretrain"]
    assert [s.name for s in _method(SemCC).stages()] == ["pretrain"]  # no finetune section: left out


def test_semcc_loss_needs_classifier():
    method = _method(SemCC)
    x, y = _data(4)
    with pytest.raises(RuntimeError, match="attach_downstream"):
        method.training_loss(x, y)


# --- DeepSC (eq. 11) ------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha2,expected_alpha2", [("ratio", RATIO), (0.3, 0.3)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_deepsc_loss_by_hand(alpha2, expected_alpha2, reduction):
    method = _method(DeepSC, snr=(0.0, 20.0), loss={"alpha2": alpha2, "rec_reduction": reduction})
    classifier = _classifier(1)
    method.attach_downstream(classifier)
    method.train()
    x, y = _data(8, seed=3)

    torch.manual_seed(123)
    loss, parts = method.training_loss(x, y)
    torch.manual_seed(123)  # same SNR draw and the same channel noise
    x_hat = method.transceiver(x, method.channel, method.sample_snr(8))
    mse = F.mse_loss(x_hat, x)
    ce = F.cross_entropy(classifier(x_hat), y)
    rec = mse * N if reduction == "sum" else mse
    expected = expected_alpha2 * rec + (1 - expected_alpha2) * ce
    assert float(parts["rec"].detach()) == pytest.approx(float(rec), rel=1e-5)
    assert float(parts["task"].detach()) == pytest.approx(float(ce), rel=1e-5)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    # the noise matters: another seed gives another loss (so the comparison above is not vacuous)
    torch.manual_seed(124)
    assert float(method.training_loss(x, y)[0]) != pytest.approx(float(loss), rel=1e-7)


def test_deepsc_needs_classifier():
    method = _method(DeepSC)
    x, y = _data(4)
    with pytest.raises(RuntimeError, match="attach_downstream"):
        method.training_loss(x, y)


# --- SemRE ----------------------------------------------------------------------------------------

def test_semre_re_encoder_takes_no_gradient():
    method = _method(SemRE)
    method.attach_downstream(_classifier())
    method.train()
    assert not any(p.requires_grad for p in method.re_encoder.parameters())
    assert not any(m.training for m in method.re_encoder.modules() if m is not method.re_encoder)
    trainable = {id(p) for p in method.trainable_parameters()}
    assert not trainable & {id(p) for p in method.re_encoder.parameters()}

    x, y = _data(8, seed=2)
    loss, parts = method.training_loss(x, y)
    assert set(parts) == {"rec", "sem"}
    loss.backward()
    assert all(p.grad is None for p in method.re_encoder.parameters())
    grads = [p.grad for p in method.transceiver.encoder.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    assert all(p.grad is not None for p in method.projection.parameters())


def _perturb_encoder(method: SemRE) -> None:
    with torch.no_grad():
        for name, value in method.transceiver.encoder.state_dict().items():
            if value.is_floating_point():
                value.add_(torch.rand_like(value) + 0.5)
            else:
                value.add_(5)


def test_semre_epoch_end_soft_update():
    method = _method(SemRE, loss={"beta": 0.25, "update_every": 1})
    _perturb_encoder(method)
    old = _state(method.re_encoder.net)
    encoder = _state(method.transceiver.encoder)
    assert any(not torch.equal(old[k], encoder[k]) for k in old)
    method.on_train_epoch_end()  # no trainer attached: current_epoch is 0, the first epoch's end
    for name, value in method.re_encoder.net.state_dict().items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.25 * old[name] + 0.75 * encoder[name], rtol=1e-6, atol=1e-7), name
        else:
            assert torch.equal(value, encoder[name]), name
    assert not any(p.requires_grad for p in method.re_encoder.parameters())


def test_semre_update_every_two_skips_first_epoch():
    method = _method(SemRE, loss={"beta": 0.25, "update_every": 2})
    _perturb_encoder(method)
    old = _state(method.re_encoder.net)
    method.on_train_epoch_end()
    assert all(torch.equal(v, old[k]) for k, v in method.re_encoder.net.state_dict().items())


def test_semre_soft_update_in_lightning_fit():
    # two real epochs with update_every 2: the re-encoder moves once, at the end of the second epoch,
    # to beta * its initial weights + (1 - beta) * the encoder's weights after the fit
    method = _method(SemRE, loss={"beta": 0.25, "update_every": 2})
    method.attach_downstream(_classifier())
    old = _state(method.re_encoder.net)
    _fit(method, epochs=2, batches=1)
    encoder = _state(method.transceiver.encoder)
    new = method.re_encoder.net.state_dict()
    for name, value in new.items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.25 * old[name] + 0.75 * encoder[name], rtol=1e-5, atol=1e-6), name
    assert any(not torch.equal(new[k], old[k]) for k in new if new[k].is_floating_point())


def test_semre_re_encoding_is_the_copy_through_the_power_normalisation():
    # s_r = P(E_theta_r(x_hat)): the copy's latent as complex symbols of unit average power (eq. 2)
    method = _method(SemRE)
    _perturb_encoder(method)        # the copy now differs from the encoder: the copy must be the one used
    x_hat = _data(6, seed=4)[0]
    with torch.no_grad():
        s_r = method.re_encode(x_hat)
        z = method.re_encoder.net(x_hat)
    expected = torch.complex(z[:, 0::2], z[:, 1::2])
    expected = expected / expected.abs().pow(2).mean(1, keepdim=True).sqrt()
    assert torch.allclose(s_r, expected, atol=1e-5)
    assert torch.allclose(s_r.abs().pow(2).mean(1), torch.ones(6), atol=1e-5)


def test_semre_step_updates_follow_every_optimiser_step():
    # update_unit "step": eq. 14 after each of the 3 steps, so the re-encoder ends at
    # beta^3 * initial + (weights the encoder passed through); with beta 0 it is the final encoder
    method = _method(SemRE, loss={"beta": 0.0, "update_unit": "step", "update_every": 1})
    method.attach_downstream(_classifier())
    old = _state(method.re_encoder.net)
    _fit(method, epochs=1, batches=3)
    encoder = _state(method.transceiver.encoder)
    new = method.re_encoder.net.state_dict()
    for name, value in new.items():
        if value.is_floating_point():
            assert torch.allclose(value, encoder[name]), name
    assert any(not torch.equal(new[k], old[k]) for k in new if new[k].is_floating_point())


def test_semre_transmitted_only_contrasts_the_sent_symbols_alone():
    x, y = _data(16, seed=3)
    only = _method(SemRE, loss={"semantic_views": "transmitted"})
    only.attach_downstream(_classifier())
    calls = []
    only.re_encode = lambda x_hat: calls.append(x_hat)       # must not be reached
    loss, parts = only.training_loss(x, y)
    assert not calls and torch.isfinite(loss)
    loss.backward()
    # the decoder still learns through the reconstruction term, the encoder through both terms
    assert sum(float(p.grad.abs().sum()) for p in only.transceiver.decoder.parameters()) > 0
    assert sum(float(p.grad.abs().sum()) for p in only.transceiver.encoder.parameters()) > 0


# --- every method learns --------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [DeepJSCC, DeepSC, SemCC, SemRE])
def test_training_loss_decreases(cls):
    method = _method(cls, snr=(30.0, 30.0))
    method.attach_downstream(_classifier())
    method.train()
    x, y = _data(16, seed=5)
    opt = torch.optim.Adam(method.trainable_parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss, _parts = method.training_loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses


def test_method_registry():
    assert METHODS == {"deepjscc": DeepJSCC, "deepsc": DeepSC, "semcc": SemCC, "semre": SemRE, "mijscc": MIJSCC,
                       "a-mijscc": AMIJSCC}
    assert _method(DeepJSCC).transceiver.k == round(N * RATIO) == 33


# --- configs fail before training -----------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("methd: semcc\n", "methd"),
    ("loss: {temprature: 0.1}\n", "temprature"),
    ("ratio: '2'\n", "ratio"),
    ("method: semcc\nratio: 1/5000\n", "rounds to 0"),
    ("method: semcc\nloss: {alpha: 1.5}\n", "loss.alpha"),
    ("method: semcc\nloss: {alpha2: -0.1}\n", "loss.alpha2"),
    ("method: semcx\n", "method = 'semcx': should be 'deepjscc'"),
    ("ratio: 1/12\n", "method is missing"),
    ("method: semcc\nloss: {tau: 0}\n", "loss.tau"),
])
def test_config_errors(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_cli_rejects_bad_config_before_training(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("method: semcc\nratio: 1/5000\ntrainer: {max_epochs: 1}\n")
    out = tmp_path / "run"
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "semcom_core.cli.main", "train", "--config", str(config),
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "error" in result.stderr and "ratio" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert time.time() - started < 60


def test_compiled_loss_computes_what_the_eager_one_does():
    """trainer.compile: the same objective and gradients through torch.compile (at 100 dB the channel noise,
    which compiled code draws from another random stream, is too small to tell them apart), to within what
    another order of summation changes."""
    method = _method(DeepSC, snr=(100.0, 100.0))
    method.attach_downstream(_classifier())
    x, y = _data(16)
    eager_loss, _ = method.training_loss(x, y)
    eager_loss.backward()
    eager_grads = [p.grad.clone() for p in method.trainable_parameters()]
    method.zero_grad()
    method.compile_loss()
    compiled_loss, parts = method.training_loss(x, y)
    compiled_loss.backward()
    assert set(parts) == {"rec", "task"}
    assert torch.allclose(compiled_loss, eager_loss, rtol=1e-4)
    for eager, p in zip(eager_grads, method.trainable_parameters()):   # fused kernels sum in another order
        assert (p.grad - eager).norm() <= 0.02 * eager.norm() + 1e-8
