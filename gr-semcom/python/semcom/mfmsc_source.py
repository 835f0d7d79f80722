#
# Copyright 2026 semcom contributors.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Task instances of the embedded MFMSC tasks as PDUs."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from .base.bundles import load_mfmsc
from .base.emitter import EmittingSource
from .base.pdu import make_pdu


def task_names(tasks, served) -> list[str]:
    """``tasks`` ("all" or names separated by commas) as a list of tasks the bundle serves; ValueError
    names the unknown ones."""
    text = str(tasks).strip()
    names = list(served) if text in ("", "all") else [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in served]
    if unknown or not names:
        raise ValueError(f"unknown task(s) {', '.join(unknown) or repr(text)}; the bundle serves {', '.join(served)}")
    return names


class mfmsc_source(EmittingSource, gr.basic_block):
    """Emit instances of the embedded test tasks of an MFMSC bundle as PDUs on ``pdu``.

    Each PDU is ``cons(meta, f32vector)``: the instance's inputs packed as
    ``semcom_core.link.multitask.pack_instance`` does (the task's modalities one after the other; text as
    token ids), with ``meta = {task, kind, index, reference, outputs[, speech_len]}``: ``reference`` is what
    the task's metric scores the prediction against (class id, label bit mask, text, transcript; for image
    reconstruction the image itself, which is the payload); ``total`` is how many instances this source
    emits in all (a metrics sink told to expect 0 expects that many). Feed it to ``mfmsc_tx`` and to the ``ref`` port
    of ``task_metrics_sink``.

    Args:
        bundle_path: MFMSC bundle; its card's data settings and tokenizer make the test split the library
            evaluates.
        tasks: "all" (a mixed stream: instance 0 of every task, then instance 1, ...) or task names
            separated by commas.
        num_instances: instances per task (clipped to the split's size).
        interval_ms: pause between PDUs; 0 emits as fast as possible.

    Instances are emitted once from a thread started in ``start()``. Getters: ``num_instances()`` (all
    tasks together), ``emitted()``, ``finished()``, ``tasks()``.
    """

    def __init__(self, bundle_path="", tasks="all", num_instances=100, interval_ms=0.0):
        gr.basic_block.__init__(self, name="semcom_mfmsc_source", in_sig=None, out_sig=None)
        self.message_port_register_out(pmt.intern("pdu"))
        from semcom_core.data.mfmsc.tasks import build_tasks
        from semcom_core.link.multitask import pack_instance, reference_of

        link, card = load_mfmsc(bundle_path)
        self._tasks = task_names(tasks, list(link.system.tasks))
        cfg = {**card["config"], "tasks": self._tasks}
        _, test, _ = build_tasks(cfg, splits=("test",), tokenizer=link.tokenizer)
        count = min([max(0, int(num_instances))] + [len(test[t]) for t in self._tasks])
        self._items = []
        for i in range(count):
            for name in self._tasks:
                data = test[name]
                values, extra = pack_instance(data.tensors, i, data.spec.modalities)
                reference = reference_of(data, i, link.tokenizer.decode)
                meta = {"task": name, "kind": data.spec.kind, "index": i, "outputs": int(data.outputs),
                        "total": count * len(self._tasks), **extra}
                if reference is not None:
                    meta["reference"] = reference
                self._items.append((meta, values))
        self._port = pmt.intern("pdu")
        self.init_emitter("semcom_mfmsc_source", len(self._items), interval_ms)

    def num_instances(self) -> int:
        return len(self._items)

    def tasks(self) -> list[str]:
        return list(self._tasks)

    def items(self) -> list:
        """(meta, packed values) of every instance, in emission order."""
        return [(dict(meta), np.array(values)) for meta, values in self._items]

    def publish(self, i: int) -> None:
        meta, values = self._items[i]
        self.message_port_pub(self._port, make_pdu(meta, values))
