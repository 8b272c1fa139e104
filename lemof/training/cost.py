"""How long a training job will take: a rough model of wall time on this project's 2-core CPU.

Seconds per 1,000 training stays per epoch of each encoder, measured: a default ``gru+resnet1d``
run on 2,810 training stays took 15 s for 8 EHR epochs, 30 s for 9 ECG epochs and 15 s for 19
fusion epochs; the transformers cost about twice as much. Times the epochs early stopping usually
runs (patience 5: about 9 in stage 1, 19 in stage 3). A GPU is assumed ten times faster (not
measured here). The tabular head's hyperparameter search (``tabular_head``: 5-fold training-CV over
about 13 LightGBM settings) took 279 s on 2,758 training stays with the cores shared with a second
training, so about 100 s per 1,000 training stays, on the CPU whatever the device.
"""

from __future__ import annotations

SECONDS_PER_1000_STAYS_EPOCH = {"ehr": {"gru": 0.7, "transformer": 1.4, "tcn": 0.6}, "sig": {"resnet1d": 1.2, "transformer": 2.4, "tcn": 1.2}}
UNKNOWN_ENCODER = {"ehr": 1.5, "sig": 2.5}  # an encoder not measured: a cautious guess
FUSION_EPOCH = 0.3  # stage 3, per 1,000 training stays
OVERHEAD = 10.0  # seconds: loading, stage 2, writing the run
GPU_SPEEDUP = 10.0
TABULAR_HEAD = 100.0  # seconds per 1,000 training stays (LightGBM on the CPU, even on a GPU machine)


def estimate_seconds(n_train: int, options: dict, on_gpu: bool) -> float:
    """Rough wall time (s) of a job with TrainConfig ``options`` (``encoders``, ``epochs_stage1``,
    ``epochs_stage3``, optional ``patience``) on ``n_train`` training stays."""
    ehr, sig = options["encoders"].split("+")
    patience = options.get("patience", 5)
    e1 = min(options["epochs_stage1"], patience + 4)
    e3 = min(options["epochs_stage3"], 3 * patience + 4)
    per_epoch = SECONDS_PER_1000_STAYS_EPOCH
    base = n_train / 1000 * (e1 * (per_epoch["ehr"].get(ehr, UNKNOWN_ENCODER["ehr"]) + per_epoch["sig"].get(sig, UNKNOWN_ENCODER["sig"])) + e3 * FUSION_EPOCH) + OVERHEAD
    head = n_train / 1000 * TABULAR_HEAD if options.get("tabular_head") else 0.0
    return (base / GPU_SPEEDUP if on_gpu else base) + head
