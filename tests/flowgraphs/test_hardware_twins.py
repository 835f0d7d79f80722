"""Each USRP flowgraph in hardware/ is its simulated twin in flowgraphs/ with the radio swapped in.

Compared from the .grc YAML (no GNU Radio needed): the same blocks (names, block types, parameter
values) and the same connections, except that the twin's ZMQ PUSH sink / PULL source are a USRP
sink / source, the twin's ZMQ address parameter is replaced by the radio's parameters, and the
record's channel label defaults differ. What is tested in simulation is therefore what runs on air.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TWINS = [  # (hardware flowgraph, simulated twin)
    ("hardware/usrp_tx.grc", "flowgraphs/ofdm_tx_zmq.grc"),
    ("hardware/usrp_rx.grc", "flowgraphs/ofdm_rx_zmq.grc"),
    ("hardware/usrp_loopback.grc", "flowgraphs/ofdm_loopback_zmq.grc"),
    ("hardware/usrp_rgbd_device.grc", "flowgraphs/rgbd_device_ofdm_zmq.grc"),
    ("hardware/usrp_rgbd_server.grc", "flowgraphs/rgbd_server_ofdm_zmq.grc"),
    ("hardware/usrp_mfmsc_tx.grc", "flowgraphs/mfmsc_tx_ofdm_zmq.grc"),
    ("hardware/usrp_mfmsc_rx.grc", "flowgraphs/mfmsc_rx_ofdm_zmq.grc"),
]
# block type in the twin -> block type in the hardware flowgraph
REPLACED = {"zeromq_push_sink": "uhd_usrp_sink", "zeromq_pull_source": "uhd_usrp_source"}
HARDWARE_ONLY = {"device_args", "samp_rate", "center_freq", "tx_gain", "rx_gain", "clock_source", "antenna",
                 "tx_antenna", "rx_antenna", "rgb_device_args", "depth_device_args", "rgb_center_freq",
                 "depth_center_freq"}
SIMULATION_ONLY = {"address", "rgb_address", "depth_address"}
LABELS = {"channel_label", "out_path"}   # parameters whose default value may differ (record label, file)
OPTIONS_OWN = {"id", "title", "description"}


def load(rel: str) -> dict:
    return yaml.safe_load((REPO / rel).read_text())


def blocks(doc: dict) -> dict:
    return {b["name"]: b for b in doc["blocks"]}


def params(doc: dict) -> dict:
    return {name: b for name, b in blocks(doc).items() if b["id"] == "parameter"}


def replaced_map(hw: dict, sim: dict) -> dict:
    """Twin block name -> hardware block name for the swapped radio blocks (matched by type; where a flowgraph
    has several, as the RGB-D server's one per device, by the name's suffix: zmq_rgb -> usrp_rgb)."""
    hw_by_type: dict = {}
    for name, b in blocks(hw).items():
        hw_by_type.setdefault(b["id"], []).append(name)
    mapping = {}
    for name, b in blocks(sim).items():
        if b["id"] in REPLACED:
            candidates = hw_by_type.get(REPLACED[b["id"]], [])
            if len(candidates) > 1:
                candidates = [c for c in candidates if c.split("_")[-1] == name.split("_")[-1]]
            assert len(candidates) == 1, f"need exactly one {REPLACED[b['id']]} for {name}, got {candidates}"
            mapping[name] = candidates[0]
    return mapping


@pytest.fixture(params=TWINS, ids=[Path(h).stem for h, _ in TWINS])
def twin(request):
    hw_rel, sim_rel = request.param
    return load(hw_rel), load(sim_rel)


def test_same_blocks_apart_from_the_radio(twin):
    hw, sim = twin
    mapping = replaced_map(hw, sim)
    assert mapping, "the twin has no ZMQ blocks to replace"
    hw_blocks, sim_blocks = blocks(hw), blocks(sim)
    skip_hw = set(mapping.values()) | HARDWARE_ONLY
    skip_sim = set(mapping) | SIMULATION_ONLY
    assert set(hw_blocks) - skip_hw == set(sim_blocks) - skip_sim
    for name in set(sim_blocks) - skip_sim:
        a, b = hw_blocks[name], sim_blocks[name]
        assert a["id"] == b["id"], name
        if name in LABELS:
            assert set(a["parameters"]) == set(b["parameters"]), name
            continue
        assert a["parameters"] == b["parameters"], name
        assert a["states"]["state"] == b["states"]["state"], name


def test_same_connections_after_mapping_the_radio(twin):
    hw, sim = twin
    mapping = replaced_map(hw, sim)
    sim_conns = sorted(tuple(mapping.get(x, x) if i in (0, 2) else x for i, x in enumerate(c))
                       for c in sim["connections"])
    hw_conns = sorted(tuple(c) for c in hw["connections"])
    assert hw_conns == sim_conns


def test_same_options_apart_from_names(twin):
    hw, sim = twin
    a, b = hw["options"]["parameters"], sim["options"]["parameters"]
    assert {k: v for k, v in a.items() if k not in OPTIONS_OWN} == {k: v for k, v in b.items() if k not in OPTIONS_OWN}


def test_radio_blocks_use_the_hardware_parameters(twin):
    hw, sim = twin
    hw_params = set(params(hw))
    assert {"samp_rate", "clock_source"} <= hw_params
    assert {"device_args", "center_freq"} <= hw_params or \
        {"rgb_device_args", "depth_device_args", "rgb_center_freq", "depth_center_freq"} <= hw_params
    for name, b in blocks(hw).items():
        p = b["parameters"]
        if b["id"] == "uhd_usrp_sink":
            assert p["len_tag_name"].strip("'\"") == "packet_len", "bursts need the OFDM transmitter's length tag"
            assert p["gain0"] == "tx_gain" and "tx_gain" in hw_params
            assert p["ant0"] in ("antenna", "tx_antenna")
        elif b["id"] == "uhd_usrp_source":
            assert p["gain0"] == "rx_gain" and "rx_gain" in hw_params
            assert p["ant0"] in ("antenna", "rx_antenna")
        else:
            continue
        own = name.split("_")[-1]      # a radio per device (usrp_rgb, usrp_depth) has the device's own address and frequency
        assert p["dev_addr"] in ("device_args", f"{own}_device_args") and p["samp_rate"] == "samp_rate"
        assert p["center_freq0"] in ("center_freq", f"{own}_center_freq") and p["clock_source0"] == "clock_source"
        assert p["ant0"] in hw_params
    # every hardware-only parameter is used by a radio block
    used = {v for b in blocks(hw).values() if b["id"].startswith("uhd_") for v in b["parameters"].values()}
    assert hw_params & HARDWARE_ONLY <= used
    if "otx" in blocks(hw):
        amplitude = float(params(hw)["amplitude"]["parameters"]["value"])
        assert 0.05 <= amplitude <= 0.5, "USRP bursts need headroom below full scale"


def test_no_tags_cross_the_air(twin):
    _, sim = twin
    zmq = [b for b in sim["blocks"] if b["id"].startswith("zeromq_")]
    assert zmq and all(b["parameters"]["pass_tags"] == "False" for b in zmq)
    assert all(b["parameters"]["address"] in ("address", f"{b['name'].split('_')[-1]}_address") for b in zmq)
