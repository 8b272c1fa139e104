"""ECG measurement: speed on 10 s 12-lead ECGs and agreement with the synthetic truth.

- **speed** (goal: one 10 s 12-lead ECG measured in ≤ 0.5 s): ``lemof.ecg.measure.measure`` on the
  synthetic cohort's ECGs (500 Hz) and on the first 10 s of the real PTB record (12 leads, 1000 Hz,
  resampled inside), after one warm-up call (neurokit2's import and first-call set-up);
- **truth** (``latent_causes.parquet`` of a synthetic cohort): heart-rate MAE against
  ``ecg_heart_rate_bpm``; AUROC of ``rr_irregularity`` for AF; P waves found in sinus and AF; QRS
  of wide vs normal QRS; ST at J+60 ms against the generator's ST shift per lead
  (``st_deviation_mv`` × the territory's lead weights), after taking off each lead's median over
  the stays without ischaemia (J+60 ms lies on the normal ST-T upslope);
- the two real records' measurements (``../shared/data/real-ecg``), when present.

    python -m benchmarks.bench_ecg_measure [--n 200] [--seed 3]

Prints and writes ``benchmarks/results/ecg_measure.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import save
from testkit.paths import REPO

REAL = REPO.parent / "shared" / "data" / "real-ecg"
GOAL_S = 0.5


def synthetic_agreement(bundle, max_stays: int | None = None) -> dict:
    """Measure every ECG of a synthetic ``bundle`` and compare with its latent truth (see the module docstring)."""
    from sklearn.metrics import roc_auc_score

    from lemof.data.ecg_synth import _ST_TERRITORY
    from lemof.ecg.measure import measure
    from lemof.ecg.record import EcgRecord

    lat = bundle.latent_causes()
    rows, times = [], []
    for i in np.flatnonzero(bundle.stays["has_signal"].to_numpy())[:max_stays]:
        rec = EcgRecord(bundle.signal_physical(int(i)).astype(np.float64), tuple(bundle.signal_channels), bundle.signal_fs, name=str(i))
        t0 = time.perf_counter()
        m = measure(rec)
        times.append(time.perf_counter() - t0)
        rows.append((lat.iloc[i], m))
    f = lambda v: np.nan if v is None else float(v)  # noqa: E731
    hr_true = np.array([r["ecg_heart_rate_bpm"] for r, _ in rows])
    hr_meas = np.array([f(m.heart_rate_bpm) for _, m in rows])
    af = np.array([bool(r["af"]) for r, _ in rows])
    wide = np.array([bool(r["wide_qrs"]) for r, _ in rows])
    irr = np.array([f(m.rr_irregularity) for _, m in rows])
    qrs = np.array([f(m.qrs_ms) for _, m in rows])
    p_present = np.array([bool(m.p_waves_present) for _, m in rows])
    leads = list(bundle.signal_channels)
    st = np.array([[f(m.st_deviation_mv.get(lead)) for lead in leads] for _, m in rows])
    terr = np.array([{"none": 0, "anterior": 1, "inferior": 2}[str(r["ischaemia_territory"])] for r, _ in rows])
    expected = _ST_TERRITORY[terr] * np.array([float(r["st_deviation_mv"]) for r, _ in rows])[:, None]
    isch = terr > 0
    out = {
        "n_ecgs": len(rows),
        "heart_rate_mae_bpm": round(float(np.nanmean(np.abs(hr_meas - hr_true))), 2),
        "heart_rate_max_error_bpm": round(float(np.nanmax(np.abs(hr_meas - hr_true))), 2),
        "heart_rate_missing": int(np.isnan(hr_meas).sum()),
        "n_af": int(af.sum()),
        "af_auroc_rr_irregularity": round(float(roc_auc_score(af, np.nan_to_num(irr))), 3) if 0 < af.sum() < len(af) else None,
        "p_waves_present_sinus": round(float(p_present[~af].mean()), 3),
        "p_waves_present_af": round(float(p_present[af].mean()), 3) if af.any() else None,
        "n_wide_qrs": int(wide.sum()),
        "qrs_ms_wide_range": [float(np.nanmin(qrs[wide])), float(np.nanmax(qrs[wide]))] if wide.any() else None,
        "qrs_ms_normal_range": [float(np.nanmin(qrs[~wide])), float(np.nanmax(qrs[~wide]))],
        "qrs_auroc_wide": round(float(roc_auc_score(wide, np.nan_to_num(qrs))), 3) if 0 < wide.sum() < len(wide) else None,
        "time_s_median": round(float(np.median(times)), 4),
        "time_s_max": round(float(np.max(times)), 4),
    }
    if isch.any() and (~isch).any():
        excess = st[isch] - np.nanmedian(st[~isch], axis=0)
        ok = np.isfinite(excess)
        e, x = expected[isch][ok], excess[ok]
        slope = float(np.polyfit(e, x, 1)[0])
        out["st"] = {
            "n_ischaemic": int(isch.sum()),
            "pearson_r_per_lead": round(float(np.corrcoef(e, x)[0, 1]), 3),
            "slope_measured_vs_true": round(slope, 3),
            "mae_mv": round(float(np.mean(np.abs(x - e))), 3),
            "note": "measured (minus the lead's median over stays without ischaemia) vs st_deviation_mv x territory weight, "
                    "every lead of every ischaemic stay",
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="stays of the synthetic cohort (about 90%% have an ECG)")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()

    from lemof.data.bundle import open_bundle
    from lemof.data.synthetic import generate_synthetic
    from lemof.ecg.measure import measure
    from lemof.ecg.record import EcgRecord, read_record

    result: dict = {"goal_s_per_10s_12lead": GOAL_S}
    with tempfile.TemporaryDirectory() as tmp:
        generate_synthetic(Path(tmp) / "cohort", n=args.n, seed=args.seed)
        bundle = open_bundle(Path(tmp) / "cohort")
        warm = EcgRecord(bundle.signal_physical(0).astype(np.float64), tuple(bundle.signal_channels), bundle.signal_fs)
        measure(warm)  # warm-up: neurokit2 import and first-call set-up
        result["synthetic"] = {"n_stays": args.n, "seed": args.seed, **synthetic_agreement(bundle)}
    real = {}
    for name in ("s0010_re", "3000003_0003"):
        if not (REAL / f"{name}.hea").exists():
            continue
        rec = read_record(REAL / name)
        t0 = time.perf_counter()
        m = measure(rec)
        real[name] = {"fs_hz": rec.fs_hz, "leads": list(rec.leads), "duration_s": round(rec.duration_s, 2), "n_beats": len(m.beats),
                      "time_s": round(time.perf_counter() - t0, 3), "measurements": m.to_dict()}
        if name == "s0010_re":  # the speed goal on a real 12-lead: its first 10 s, the 12 standard leads at 1000 Hz
            ten = EcgRecord(rec.signals[:12, : int(10 * rec.fs_hz)], rec.leads[:12], rec.fs_hz, name="s0010_re[0:10s]")
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                measure(ten)
                ts.append(time.perf_counter() - t0)
            result["ptb_10s_12lead_time_s_median"] = round(float(np.median(ts)), 4)
    result["real"] = real
    med = result["synthetic"]["time_s_median"]
    result["meets_goal"] = bool(med <= GOAL_S and result.get("ptb_10s_12lead_time_s_median", 0.0) <= GOAL_S)
    save("ecg_measure", result)


if __name__ == "__main__":
    main()
