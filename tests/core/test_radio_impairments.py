"""Radio hardware around the channel: Rapp power amplifier, IQ imbalance, phase noise, each against its
formula, and through a channel and the GNU Radio channel block."""

import math

import numpy as np
import pytest
import torch

from semcom_core.channels import make_channel
from semcom_core.channels.hardware import RadioImpairments


def _unit(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.polar(torch.ones(n), torch.rand(n, generator=g) * 2 * math.pi).reshape(1, -1)


def test_rapp_amplifier_compresses_amplitude_and_keeps_phase():
    pa = RadioImpairments(pa_backoff_db=0.0, pa_smoothness=2.0)          # saturation at the RMS amplitude
    s = torch.tensor([[0.5 + 0j, 1j, -2.0 + 0j, 1e-3 + 0j]], dtype=torch.complex64)
    out = pa.amplify(s)
    expected = [a / (1 + a ** 4) ** 0.25 for a in (0.5, 1.0, 2.0, 1e-3)]
    assert torch.allclose(out.abs()[0], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(torch.angle(out), torch.angle(s), atol=1e-6)
    assert out.abs().max() < 1.0                                        # never above saturation
    assert torch.allclose(RadioImpairments(pa_backoff_db=40.0).amplify(s), s, atol=1e-4)   # far backed off: linear
    assert RadioImpairments().amplify(s) is s


def test_iq_imbalance_puts_the_image_where_its_rejection_ratio_says():
    radio = RadioImpairments(iq_gain_db=1.0, iq_phase_deg=5.0)
    tone = torch.polar(torch.ones(1, 4096), torch.arange(4096.0).reshape(1, -1) * 0.3)
    y = radio.receive(tone.to(torch.complex64))
    wanted = (y * tone.conj()).mean().abs() ** 2                        # power at +f
    image = (y * tone).mean().abs() ** 2                                # power at -f
    assert 10 * math.log10(wanted / image) == pytest.approx(radio.image_rejection_db(), abs=0.05)
    assert 20 < radio.image_rejection_db() < 30 and RadioImpairments().image_rejection_db() == math.inf


def test_phase_noise_is_a_random_walk_of_the_given_step():
    radio = RadioImpairments(phase_noise_deg=2.0)
    s = torch.ones(64, 2000, dtype=torch.complex64)
    y = radio.receive(s, torch.Generator().manual_seed(3))
    steps = torch.angle(y[:, 1:] * y[:, :-1].conj())
    assert math.degrees(float(steps.std())) == pytest.approx(2.0, rel=0.02)
    assert torch.allclose(y.abs(), torch.ones_like(y.abs()), atol=1e-5) and bool((y[:, 0] == 1).all())


def test_through_a_channel_and_its_errors():
    s = _unit(512)
    ch = make_channel("awgn", impairments={"pa_backoff_db": 0.0}, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ch(s, 200.0), RadioImpairments(pa_backoff_db=0.0).amplify(s), atol=1e-5)
    fading = make_channel("rayleigh", impairments=RadioImpairments(phase_noise_deg=1.0))
    assert fading(s, 30.0).shape == s.shape
    with pytest.raises(ValueError, match="unknown impairments"):
        make_channel("awgn", impairments={"pa_gain": 1})
    with pytest.raises(ValueError, match="phase_noise_deg must be >= 0"):
        RadioImpairments(phase_noise_deg=-1)


def test_the_gnuradio_channel_block_takes_them_in_extra():
    pytest.importorskip("gnuradio.gr")
    from gnuradio import blocks, gr
    from gnuradio.semcom import channel, testing

    frames = (np.exp(1j * np.linspace(0, 6, 64 * 8)).astype(np.complex64) * 2).reshape(8, 64)   # +6 dB
    ch = channel("awgn", 120.0, extra={"impairments": {"pa_backoff_db": 0.0}})
    tb, sink = gr.top_block(), blocks.vector_sink_c()
    tb.connect(testing.frames_source(list(frames)), ch, sink)
    assert testing.run_bounded(tb, lambda: len(sink.data()) >= frames.size, 30.0)
    out = np.asarray(sink.data())
    assert np.allclose(np.abs(out), 2 / (1 + 2 ** 4) ** 0.25, atol=1e-4)     # compressed as the Rapp model says
