"""``python -m testkit.shard_probe <lemof CLI arguments>``: run the ``lemof`` CLI and record what each
process trains and validates on. A test-only probe for ``tests/unit/test_jobs.py`` (not a test module).

It wraps ``lemof.training.loop.fit`` before the training stages import it, so every batch of row
indices that reaches a stage's loss is recorded: per ``fit`` call (a stage), the training batches
(in step order) and the validation batches. Written to ``$LEMOF_SHARD_PROBE/rank<RANK>.json``
(RANK as torchrun sets it; 0 for a single process).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import lemof.training.loop as loop

_fit = loop.fit
_calls: list[dict] = []


def _dump() -> None:
    out = Path(os.environ["LEMOF_SHARD_PROBE"]) / f"rank{os.environ.get('RANK', '0')}.json"
    out.write_text(json.dumps(_calls))


def fit(module, batch_loss, train_idx, val_idx, **kwargs):
    call = {"stage": kwargs.get("stage"), "train": [], "val": []}
    _calls.append(call)

    def recording(net, idx, training):
        (call["train"] if training else call["val"]).append([int(i) for i in idx.tolist()])
        return batch_loss(net, idx, training)

    try:
        return _fit(module, recording, train_idx, val_idx, **kwargs)
    finally:
        _dump()


loop.fit = fit

if __name__ == "__main__":
    from lemof.cli import main

    sys.exit(main(sys.argv[1:]))
