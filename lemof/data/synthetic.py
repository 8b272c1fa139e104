"""The synthetic ICU cohort: EHR + 12-lead ECG with a known cause for every stay's LOS.

Latent causes per stay (stored in ``latent_causes.parquet``, never fed to a model):
physiological ``severity``, a 24 h ``trajectory`` (deteriorating > 0), ``renal``
dysfunction, ``infection``, atrial fibrillation ``af``, ``ischaemia`` (ST deviation in an
anterior or inferior territory), ``wide_qrs`` and an ``elective`` admission. LOS depends
on them and on two interactions (infection x severity, AF x ischaemia), so both
modalities and different encoder depths carry signal:

- EHR only: severity, trajectory (trends), renal, infection, elective, age;
- ECG only: ischaemia (ST morphology, early levels), wide QRS;
- both: AF (irregular hourly HR in the EHR; irregular RR and no P waves in the ECG).

log(LOS days) is roughly normal (mean about 0.8, sd about 1.0) with the upper tail softly
compressed so the longest stays are 20-30 days, as in the MIMIC-IV demo (DATA.md section 1).

The ECG knob (``ecg_strength``, ``ecg_focus``; ``EcgKnob``) changes how much of log-LOS the ECG
carries and which ECG causes carry it, every other draw unchanged (the same stays, latent causes
and ECG morphology at every knob point of a seed). ``ecg_focus`` picks the ECG-borne causes that
act on LOS: ``both`` (AF, ischaemia, wide QRS and the AF x ischaemia interaction, as by default),
``morphology`` (ischaemia and wide QRS: the shape of one beat, short-range, seen by early encoder
levels) or ``rhythm`` (AF: irregular RR and no P waves, long-range, later levels). The focused
causes are scaled so that the variance of their part of log-LOS is ``ecg_strength`` squared times
that of the four default ECG terms; every other part (EHR causes, age,
elective, noise) is scaled by one factor so the total log-LOS variance stays that of the default
cohort, and the intercept is moved so its mean does too (``los_mix``). With focus ``rhythm`` AF
leaves no trace in the EHR (rate-controlled: no faster or irregular hourly heart rate, no pull
towards the CCU), and with ``morphology`` ischaemia no pull towards the CCU, so the focused causes
are seen only in the ECG. ``EcgKnob()`` (strength 1, focus both) is the default cohort, byte for
byte.

Stays are generated in fixed chunks of ``CHUNK`` with a generator seeded by
(seed, chunk index), so the same seed gives the same bytes on every machine, and memory
stays bounded by one chunk whatever the cohort size.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lemof.data import ecg_synth
from lemof.data.bundle import NpyStreamWriter, finalize_bundle
from lemof.errors import ConfigError
from lemof.progress import Progress
from lemof.data.schema import ecg_signal, icu_static_features
from lemof.data.sources import register_source
from lemof.data.splits import assign_splits
from lemof.paths import atomic_directory, cache_dir

GENERATOR_VERSION = 1
CHUNK = 256
N_HOURS = 24
ECG_GAIN_PER_MV = 1000  # stored int16 in microvolts
NO_ECG_SHARE = 0.15
CARE_UNITS = ("MICU", "SICU", "CCU", "CVICU", "TSICU")
ADMISSION_TYPES = ("EMERGENCY", "URGENT", "ELECTIVE")

# (name, label, unit, group, display low, display high)
EHR_FEATURES = (
    ("hr", "Heart rate", "bpm", "vital", 30, 200),
    ("sbp", "Systolic BP", "mmHg", "vital", 60, 220),
    ("dbp", "Diastolic BP", "mmHg", "vital", 25, 130),
    ("mbp", "Mean BP", "mmHg", "vital", 35, 160),
    ("rr", "Respiratory rate", "breaths/min", "vital", 5, 50),
    ("spo2", "SpO2", "%", "vital", 60, 100),
    ("temp", "Temperature", "°C", "vital", 33, 42),
    ("gcs", "GCS total", "points", "vital", 3, 15),
    ("creatinine", "Creatinine", "mg/dL", "lab", 0.2, 15),
    ("lactate", "Lactate", "mmol/L", "lab", 0.3, 20),
    ("wbc", "WBC", "10^9/L", "lab", 0.5, 60),
    ("hemoglobin", "Hemoglobin", "g/dL", "lab", 4, 20),
    ("platelets", "Platelets", "10^9/L", "lab", 5, 800),
    ("sodium", "Sodium", "mmol/L", "lab", 115, 165),
    ("potassium", "Potassium", "mmol/L", "lab", 2, 8),
    ("bicarbonate", "Bicarbonate", "mmol/L", "lab", 5, 45),
    ("bun", "BUN", "mg/dL", "lab", 2, 150),
    ("glucose", "Glucose", "mg/dL", "lab", 30, 600),
    ("bilirubin", "Total bilirubin", "mg/dL", "lab", 0.1, 30),
)
_F = {name: j for j, (name, *_rest) in enumerate(EHR_FEATURES)}
_BMP = ("creatinine", "sodium", "potassium", "bicarbonate", "bun", "glucose")
_CBC = ("wbc", "hemoglobin", "platelets")

# Coefficients of log(LOS days); tuned so the cohort falls in DATA.md's bands.
_LOS = {
    "intercept": 0.55,
    "severity": 0.42,
    "trajectory": 0.40,
    "renal": 0.22,
    "infection": 0.30,
    "infection_x_severity": 0.30,
    "af": 0.45,
    "ischaemia": 0.60,
    "af_x_ischaemia": 0.50,
    "wide_qrs": 0.35,
    "elective": -0.40,
    "age_per_year": 0.006,
    "noise_sd": 0.50,
}
_SOFT_CAP = np.log(8.0)  # above ~9 days log-LOS is compressed ...
_SOFT_SLOPE = 0.40  # ... to this slope, so the maximum lands near 20-30 days

ECG_FOCUS = ("both", "morphology", "rhythm")
ECG_TERMS = ("af", "ischaemia", "af_x_ischaemia", "wide_qrs")  # the ECG-borne coefficients of _LOS
_FOCUS_TERMS = {"both": ECG_TERMS, "morphology": ("ischaemia", "wide_qrs"), "rhythm": ("af",)}
ECG_CAUSES = ("af", "ischaemia", "wide_qrs")  # the ECG-borne parts of los_contributions
_REST_SCALE_MIN = 0.3  # the non-ECG parts of log-LOS keep at least this share of their default scale
_CALIBRATION_N = 200_000  # stays of the reference draw that calibrates a knob point


@dataclass(frozen=True)
class EcgKnob:
    """How much of log-LOS the ECG carries (``strength``, 1 = default) and which ECG causes carry it
    (``focus``: both | morphology | rhythm). See the module docstring."""

    strength: float = 1.0
    focus: str = "both"

    def __post_init__(self) -> None:
        if self.focus not in ECG_FOCUS:
            raise ConfigError(f"ecg_focus must be one of {', '.join(ECG_FOCUS)}; got {self.focus!r}")
        s = self.strength
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s < 0:
            raise ConfigError(f"ecg_strength must be a finite number >= 0; got {s!r}")
        object.__setattr__(self, "strength", float(s))

    @property
    def is_default(self) -> bool:
        return self.strength == 1.0 and self.focus == "both"

    @property
    def af_in_ehr(self) -> bool:
        """Whether AF shows in the EHR (hourly heart rate, care unit); not with focus ``rhythm``."""
        return self.focus != "rhythm"

    @property
    def suffix(self) -> str:
        """``""`` for the default cohort, else e.g. ``-ecg2.0-morphology`` (bundle and cache names)."""
        return "" if self.is_default else f"-ecg{self.strength!r}-{self.focus}"


@dataclass(frozen=True)
class LosMix:
    """The log-LOS model of one knob point: a scale per ECG term, one for all other parts, the intercept."""

    ecg_scale: dict[str, float]  # ECG_TERMS -> multiplier of its _LOS coefficient
    rest_scale: float
    intercept: float

    def coefficients(self) -> dict[str, float]:
        """``_LOS`` with the knob applied (the default mix gives ``_LOS``'s own floats)."""
        return {k: v * (self.ecg_scale[k] if k in ECG_TERMS else 1.0 if k == "intercept" else self.rest_scale)
                for k, v in _LOS.items()}

    def to_dict(self) -> dict:
        return {"ecg_scale": dict(self.ecg_scale), "rest_scale": self.rest_scale, "intercept": self.intercept}


DEFAULT_MIX = LosMix({t: 1.0 for t in ECG_TERMS}, 1.0, _LOS["intercept"])


def _latents(rng: np.random.Generator, n: int, focus: str = "both") -> dict[str, np.ndarray]:
    """Latent causes and static facts of ``n`` stays. ``focus`` (``EcgKnob.focus``): the focused
    ECG causes do not pull a stay towards the CCU (rhythm: AF; morphology: ischaemia)."""
    elective = rng.uniform(size=n) < 0.22
    urgent = ~elective & (rng.uniform(size=n) < 0.18)
    age = np.clip(rng.normal(64, 16, n), 18, 95).round(0)
    male = rng.uniform(size=n) < 0.56
    severity = rng.standard_normal(n) + 0.25 * ~elective - 0.45 * elective
    trajectory = rng.standard_normal(n)
    renal = 0.4 * severity + np.sqrt(1 - 0.4**2) * rng.standard_normal(n) + 0.01 * (age - 64)
    infection = rng.uniform(size=n) < 1 / (1 + np.exp(-(-1.0 + 0.5 * severity - 1.0 * elective)))
    af = rng.uniform(size=n) < 1 / (1 + np.exp(-(-2.4 + 0.045 * (age - 64) + 0.4 * infection)))
    ischaemia = rng.uniform(size=n) < np.where(elective, 0.12, 0.2)
    territory = np.where(ischaemia, 1 + (rng.uniform(size=n) < 0.45), 0).astype(np.int8)
    st_mv = np.where(ischaemia, rng.uniform(0.12, 0.35, n) * np.where(rng.uniform(size=n) < 0.8, 1, -1), 0.0)
    wide_qrs = rng.uniform(size=n) < 0.09
    noise = rng.standard_normal(n)
    ccu_pull = {"both": af | ischaemia, "rhythm": ischaemia, "morphology": af}[focus]
    # care unit: depends on the causes, as triage would
    logits = np.stack(
        [
            0.6 + 1.2 * infection,  # MICU
            0.3 + 0.0 * severity,  # SICU
            -0.4 + 1.6 * ccu_pull,  # CCU
            -0.8 + 2.2 * elective,  # CVICU
            -0.6 + 0.3 * urgent,  # TSICU
        ],
        axis=1,
    )
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    unit = (rng.uniform(size=(n, 1)) > np.cumsum(probs, axis=1)).sum(axis=1).clip(0, len(CARE_UNITS) - 1)
    has_ecg = rng.uniform(size=n) >= NO_ECG_SHARE
    ecg_hour = rng.integers(0, N_HOURS, n)
    return {
        "elective": elective,
        "urgent": urgent,
        "age": age,
        "male": male,
        "severity": severity,
        "trajectory": trajectory,
        "renal": renal,
        "infection": infection,
        "af": af,
        "ischaemia": ischaemia,
        "territory": territory,
        "st_mv": st_mv,
        "wide_qrs": wide_qrs,
        "noise": noise,
        "unit": unit,
        "has_ecg": has_ecg,
        "ecg_hour": ecg_hour,
    }


def los_contributions(lat: dict[str, np.ndarray], mix: LosMix = DEFAULT_MIX) -> dict[str, np.ndarray]:
    """Each cause's additive part of the (uncapped) log-LOS, so explanations can be checked."""
    c = mix.coefficients()
    return {
        "severity": c["severity"] * lat["severity"],
        "trajectory": c["trajectory"] * lat["trajectory"],
        "renal": c["renal"] * lat["renal"],
        "infection": c["infection"] * lat["infection"]
        + c["infection_x_severity"] * lat["infection"] * np.maximum(lat["severity"], 0),
        "af": c["af"] * lat["af"] + 0.5 * c["af_x_ischaemia"] * (lat["af"] & lat["ischaemia"]),
        "ischaemia": c["ischaemia"] * lat["ischaemia"] + 0.5 * c["af_x_ischaemia"] * (lat["af"] & lat["ischaemia"]),
        "wide_qrs": c["wide_qrs"] * lat["wide_qrs"],
        "elective": c["elective"] * lat["elective"],
        "age": c["age_per_year"] * (lat["age"] - 64),
        "noise": c["noise_sd"] * lat["noise"],
    }


def los_days_from_latents(lat: dict[str, np.ndarray], mix: LosMix = DEFAULT_MIX) -> np.ndarray:
    """LOS in days: exp of the summed contributions, upper tail softly compressed."""
    y = mix.intercept + sum(los_contributions(lat, mix).values())
    y = np.where(y > _SOFT_CAP, _SOFT_CAP + _SOFT_SLOPE * (y - _SOFT_CAP), y)
    return np.round(np.exp(y), 4)


def ecg_variance_share(parts: dict[str, np.ndarray]) -> float:
    """Var(sum of the ECG-borne parts) / Var(sum of all parts) of log-LOS (``los_contributions``, or
    the ``log_los_part_*`` columns of ``latent_causes.parquet`` keyed by cause)."""
    total = sum(np.asarray(v, dtype=float) for v in parts.values())
    ecg = sum(np.asarray(parts[k], dtype=float) for k in ECG_CAUSES)
    return float(np.var(ecg) / np.var(total))


@functools.lru_cache(maxsize=32)
def los_mix(knob: EcgKnob = EcgKnob()) -> LosMix:
    """The log-LOS model of a knob point, calibrated on a fixed reference draw of latent causes.

    The focused ECG terms get one scale ``a * strength``, ``a`` making their part's variance equal
    that of the four default ECG terms; the other parts get the scale ``k`` that keeps the variance
    of the summed parts at its default (solving s^2 Ve + 2 s k C + k^2 Vr = V), and the intercept
    keeps the mean. ConfigError when ``k`` would fall below ``_REST_SCALE_MIN``."""
    if knob.is_default:
        return DEFAULT_MIX
    lat = _latents(np.random.default_rng([GENERATOR_VERSION, 20260317]), _CALIBRATION_N)
    parts = los_contributions(lat)
    ecg_default = sum(parts[k] for k in ECG_CAUSES)
    rest = sum(v for k, v in parts.items() if k not in ECG_CAUSES)
    unit = LosMix({t: float(t in _FOCUS_TERMS[knob.focus]) for t in ECG_TERMS}, 1.0, _LOS["intercept"])
    ecg_focus = sum(los_contributions(lat, unit)[k] for k in ECG_CAUSES)
    a = math.sqrt(np.var(ecg_default) / np.var(ecg_focus))
    e = knob.strength * a * ecg_focus  # the ECG part at this knob point
    v_target, v_e, v_r = np.var(ecg_default + rest), np.var(e), np.var(rest)
    cov = float(np.mean((e - e.mean()) * (rest - rest.mean())))
    disc = cov**2 - v_r * (v_e - v_target)
    k = (-cov + math.sqrt(disc)) / v_r if disc >= 0 else -1.0
    if k < _REST_SCALE_MIN:
        # the largest strength: (s a)^2 Ve1 + 2 (s a) k C1 + k^2 Vr = V at k = _REST_SCALE_MIN, Ve1, C1 per unit of s a
        u = a * ecg_focus
        ve1, c1 = np.var(u), float(np.mean((u - u.mean()) * (rest - rest.mean())))
        kk = _REST_SCALE_MIN
        s_max = (-kk * c1 + math.sqrt((kk * c1) ** 2 - ve1 * (kk**2 * v_r - v_target))) / ve1
        raise ConfigError(f"ecg_strength must be at most {s_max:.2f} with ecg_focus {knob.focus!r} (the EHR causes and the noise "
                          f"would keep less than {_REST_SCALE_MIN} of their scale); got {knob.strength}")
    intercept = _LOS["intercept"] + float(np.mean(ecg_default + rest) - np.mean(e + k * rest))
    scale = {t: knob.strength * a if t in _FOCUS_TERMS[knob.focus] else 0.0 for t in ECG_TERMS}
    return LosMix(scale, k, intercept)


def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float = 0.7) -> np.ndarray:
    """Hourly AR(1) noise with stationary sd ``sd``, (n, N_HOURS)."""
    eps = rng.standard_normal((n, N_HOURS)) * sd * np.sqrt(1 - rho**2)
    out = np.empty((n, N_HOURS))
    out[:, 0] = rng.standard_normal(n) * sd
    for t in range(1, N_HOURS):
        out[:, t] = rho * out[:, t - 1] + eps[:, t]
    return out


def _true_hr(rng: np.random.Generator, lat: dict[str, np.ndarray], af_in_ehr: bool = True) -> np.ndarray:
    """Hourly heart rate (n, N_HOURS); AF makes it faster and irregular unless ``af_in_ehr`` is
    False (rate-controlled AF: the ECG is then the only place it shows). The same draws either way."""
    n = len(lat["age"])
    af = lat["af"] if af_in_ehr else np.zeros_like(lat["af"])
    drift = lat["trajectory"][:, None] * np.linspace(0, 1, N_HOURS)[None, :]
    base = 82 + 7 * lat["severity"] + 9 * lat["infection"] + 16 * af + rng.normal(0, 8, n)
    af_var = af[:, None] * rng.normal(0, 9, (n, N_HOURS))
    return np.clip(base[:, None] + 4 * drift + _ar1(rng, n, 3.0) + af_var, 38, 185)


def _ehr(rng: np.random.Generator, lat: dict[str, np.ndarray], hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hourly values (n, 24, F) float32 with NaN where not observed, and the mask (uint8)."""
    n = len(lat["age"])
    d = lat["trajectory"][:, None] * np.linspace(0, 1, N_HOURS)[None, :]  # deterioration
    sev, inf, renal = lat["severity"][:, None], lat["infection"][:, None], lat["renal"][:, None]
    hours = np.arange(N_HOURS)[None, :]

    def ind(sd: float) -> np.ndarray:  # stay-level constant
        return rng.normal(0, sd, (n, 1))

    def hourly(sd: float) -> np.ndarray:
        return rng.normal(0, sd, (n, N_HOURS))

    mbp = 82 - 7 * sev - 6 * d - 4 * inf - 2 * lat["elective"][:, None] + ind(5) + _ar1(rng, n, 3.0)
    pulse = np.clip(40 + 0.3 * (lat["age"][:, None] - 64) + ind(8), 20, 90)
    v = np.empty((n, N_HOURS, len(EHR_FEATURES)))
    v[..., _F["hr"]] = np.round(hr + hourly(1.5))
    v[..., _F["mbp"]] = np.round(mbp)
    v[..., _F["sbp"]] = np.round(mbp + 2 / 3 * pulse + hourly(2))
    v[..., _F["dbp"]] = np.round(mbp - 1 / 3 * pulse + hourly(2))
    v[..., _F["rr"]] = np.round(np.clip(17 + 2.5 * sev + 1.5 * inf + 1.5 * d + ind(2) + hourly(2.5), 6, 45))
    v[..., _F["spo2"]] = np.round(np.clip(97 - 1.5 * np.maximum(sev, 0) - d + ind(1) + hourly(1.2), 75, 100))
    fever = inf * (1.3 + 0.5 * np.sin(2 * np.pi * hours / 12 + rng.uniform(0, 2 * np.pi, (n, 1))))
    v[..., _F["temp"]] = np.round(36.9 + fever + ind(0.25) + hourly(0.2), 1)
    gcs = 15 - 2.2 * np.maximum(sev - 0.3, 0) - np.maximum(d, 0) + ind(0.6) + hourly(0.5)
    v[..., _F["gcs"]] = np.clip(np.round(gcs), 3, 15)
    v[..., _F["lactate"]] = np.round(np.exp(0.25 + 0.30 * sev + 0.25 * d + 0.15 * inf + ind(0.15) + hourly(0.1)), 1)
    v[..., _F["creatinine"]] = np.round(np.exp(0.45 * renal + 0.08 * sev + 0.05 * d + ind(0.08) + hourly(0.04)), 2)
    v[..., _F["bun"]] = np.round(16 * np.exp(0.45 * renal + 0.1 * sev + ind(0.1) + hourly(0.03)))
    v[..., _F["potassium"]] = np.round(4.1 + 0.35 * renal + ind(0.25) + hourly(0.15), 1)
    v[..., _F["wbc"]] = np.round(np.exp(2.2 + 0.45 * inf + 0.08 * sev + ind(0.2) + hourly(0.05)), 1)
    v[..., _F["hemoglobin"]] = np.round(11 - 0.4 * sev + ind(1.6) + hourly(0.3), 1)
    v[..., _F["platelets"]] = np.round(np.exp(5.35 - 0.15 * sev - 0.1 * inf + ind(0.35) + hourly(0.05)))
    v[..., _F["sodium"]] = np.round(139 + ind(3) + hourly(1))
    v[..., _F["bicarbonate"]] = np.round(24 - 2.2 * sev - 1.2 * d - 0.8 * renal + ind(1.2) + hourly(0.6))
    v[..., _F["glucose"]] = np.round(np.exp(4.85 + 0.1 * sev + 0.1 * inf + ind(0.2) + hourly(0.12)))
    v[..., _F["bilirubin"]] = np.round(np.exp(-0.3 + 0.3 * sev + ind(0.45) + hourly(0.05)), 1)
    for j, (_name, _label, _unit, _group, lo, hi) in enumerate(EHR_FEATURES):
        v[..., j] = np.clip(v[..., j], lo, hi)

    m = np.zeros(v.shape, dtype=bool)
    m[..., _F["hr"]] = rng.uniform(size=(n, N_HOURS)) < 0.95
    bp = rng.uniform(size=(n, N_HOURS)) < 0.88
    for name in ("sbp", "dbp", "mbp"):
        m[..., _F[name]] = bp
    m[..., _F["rr"]] = rng.uniform(size=(n, N_HOURS)) < 0.85
    m[..., _F["spo2"]] = rng.uniform(size=(n, N_HOURS)) < 0.9
    m[..., _F["temp"]] = ((hours - rng.integers(0, 4, (n, 1))) % 4 == 0) & (rng.uniform(size=(n, N_HOURS)) < 0.9)
    m[..., _F["gcs"]] = ((hours - rng.integers(0, 4, (n, 1))) % 4 == 0) & (rng.uniform(size=(n, N_HOURS)) < 0.85)
    # Lab draws: first within 3 h, then every 6-24 h (sicker patients more often).
    first = rng.integers(0, 4, (n, 1))
    interval = np.where(lat["severity"] > 0.5, rng.choice([6, 8], n), rng.choice([8, 12, 24], n))[:, None]
    draw = (hours >= first) & ((hours - first) % interval == 0)
    for name in _BMP + _CBC:
        m[..., _F[name]] = draw & (rng.uniform(size=(n, N_HOURS)) < 0.95)
    lactate_p = np.where(lat["severity"] > 0.5, 0.9, 0.5)[:, None]
    m[..., _F["lactate"]] = draw & (rng.uniform(size=(n, N_HOURS)) < lactate_p)
    m[..., _F["bilirubin"]] = (hours == first) & (rng.uniform(size=(n, 1)) < 0.6)
    values = np.where(m, v, np.nan).astype(np.float32)
    return values, m.astype(np.uint8)


def _features_meta() -> dict:
    return {
        "ehr": {
            "n_steps": N_HOURS,
            "step_hours": 1.0,
            "features": [
                {"name": n, "label": lab, "unit": u, "group": g, "display_range": [lo, hi]}
                for n, lab, u, g, lo, hi in EHR_FEATURES
            ],
        },
        "static": icu_static_features(ADMISSION_TYPES, CARE_UNITS),
        "signal": ecg_signal("12-lead ECG", ECG_GAIN_PER_MV),
    }


def generate_synthetic(
    out: str | Path,
    n: int = 4000,
    seed: int = 0,
    *,
    ecg_strength: float = 1.0,
    ecg_focus: str = "both",
    progress: Progress | None = None,
    overwrite: bool = False,
) -> str:
    """Generate a synthetic cohort bundle of ``n`` stays into ``out``; returns its fingerprint.

    ``ecg_strength`` and ``ecg_focus``: the ECG knob (``EcgKnob``; the defaults give the default
    cohort). The bundle is built in a temporary directory and moved into place only when complete.
    """
    if n < 10:
        raise ValueError(f"n must be at least 10 stays, got {n}")
    knob = EcgKnob(ecg_strength, ecg_focus)
    mix = los_mix(knob)
    n_chunks = (n + CHUNK - 1) // CHUNK
    n_feat = len(EHR_FEATURES)
    tables, latent_tables = [], []
    next_subject = 10_000_000
    with atomic_directory(Path(out), overwrite=overwrite) as tmp:
        w_vals = NpyStreamWriter(tmp / "ehr_values.npy", (n, N_HOURS, n_feat), np.float32)
        w_mask = NpyStreamWriter(tmp / "ehr_mask.npy", (n, N_HOURS, n_feat), np.uint8)
        w_sig = NpyStreamWriter(tmp / "signal.npy", (n, len(ecg_synth.LEADS), ecg_synth.N_SAMPLES), np.int16)
        for k in range(n_chunks):
            rows = np.arange(k * CHUNK, min(n, (k + 1) * CHUNK))
            rng = np.random.default_rng([seed, GENERATOR_VERSION, k])
            lat = _latents(rng, len(rows), knob.focus)
            # About one stay in ten is a readmission of the patient before it.
            readmit = rng.uniform(size=len(rows)) < 0.1
            readmit[0] = False
            subject = next_subject + np.cumsum(~readmit) - 1
            next_subject = int(subject[-1]) + 1
            for key in ("age", "male"):
                for i in np.flatnonzero(readmit):
                    lat[key][i] = lat[key][i - 1]
            hr = _true_hr(rng, lat, knob.af_in_ehr)
            values, mask = _ehr(rng, lat, hr)
            ecg_hr = hr[np.arange(len(rows)), lat["ecg_hour"]]
            ecg = ecg_synth.synthesize_ecg(rng, ecg_hr, lat["af"], lat["territory"], lat["st_mv"], lat["wide_qrs"])
            ecg_int = np.clip(np.round(ecg * ECG_GAIN_PER_MV), -32767, 32767).astype(np.int16)
            ecg_int[~lat["has_ecg"]] = 0
            w_vals.write(values)
            w_mask.write(mask)
            w_sig.write(ecg_int)
            stay_id = 30_000_000 + rows
            los = los_days_from_latents(lat, mix)
            adm = np.where(lat["elective"], "ELECTIVE", np.where(lat["urgent"], "URGENT", "EMERGENCY"))
            tables.append(
                pd.DataFrame(
                    {
                        "stay_id": stay_id.astype(np.int64),
                        "subject_id": subject.astype(np.int64),
                        "los_days": los,
                        "has_signal": lat["has_ecg"],
                        "signal_time_h": np.where(lat["has_ecg"], lat["ecg_hour"] + 0.5, np.nan),
                        "age": lat["age"],
                        "sex": np.where(lat["male"], "M", "F"),
                        "admission_type": adm,
                        "first_careunit": np.array(CARE_UNITS)[lat["unit"]],
                    }
                )
            )
            contrib = los_contributions(lat, mix)
            latent_tables.append(
                pd.DataFrame(
                    {
                        "stay_id": stay_id.astype(np.int64),
                        **{key: lat[key] for key in ("severity", "trajectory", "renal", "infection", "af")},
                        **{key: lat[key] for key in ("ischaemia", "wide_qrs", "elective", "noise")},
                        "ischaemia_territory": np.array(["none", "anterior", "inferior"])[lat["territory"]],
                        "st_deviation_mv": lat["st_mv"],
                        "ecg_heart_rate_bpm": np.where(lat["has_ecg"], ecg_hr, np.nan),
                        **{f"log_los_part_{key}": val for key, val in contrib.items()},
                    }
                )
            )
            if progress is not None:
                progress("generating stays", int(rows[-1]) + 1, n)
        hashes = {"ehr_values.npy": w_vals.close(), "ehr_mask.npy": w_mask.close(), "signal.npy": w_sig.close()}
        stays = pd.concat(tables, ignore_index=True)
        stays.insert(3, "split", assign_splits(stays["subject_id"].to_numpy(), seed))
        stays["split"] = stays["split"].astype(str)
        provenance = {
            "source": "synthetic",
            "name": f"synthetic-n{n}-seed{seed}{knob.suffix}",
            "version": f"generator-v{GENERATOR_VERSION}",
            "seed": seed,
            "n_requested": n,
            "n_stays": n,
            "n_subjects": int(stays["subject_id"].nunique()),
            "n_without_signal": int((~stays["has_signal"]).sum()),
            "dropped": [],
            "notes": "Synthetic cohort; latent causes in latent_causes.parquet are ground truth, not model inputs.",
        }
        latent = pd.concat(latent_tables, ignore_index=True)
        if not knob.is_default:  # the default provenance stays byte for byte what it was
            parts = {c.removeprefix("log_los_part_"): latent[c].to_numpy() for c in latent.columns if c.startswith("log_los_part_")}
            provenance["ecg_knob"] = {
                "ecg_strength": knob.strength, "ecg_focus": knob.focus, "af_in_ehr": knob.af_in_ehr, **mix.to_dict(),
                "ecg_variance_share": round(ecg_variance_share(parts), 4),
            }
        fingerprint = finalize_bundle(
            tmp, stays, _features_meta(), provenance, hashes, latent
        )
    return fingerprint


def default_cohort_dir(n: int = 4000, seed: int = 0, *, ecg_strength: float = 1.0, ecg_focus: str = "both") -> Path:
    """Where the synthetic cohort of these options is cached (the default one: ``synthetic-n4000-seed0-v1``)."""
    suffix = EcgKnob(ecg_strength, ecg_focus).suffix
    return cache_dir() / "cohorts" / f"synthetic-n{n}-seed{seed}{suffix}-v{GENERATOR_VERSION}"


def ensure_synthetic(
    n: int = 4000, seed: int = 0, progress: Progress | None = None, *, ecg_strength: float = 1.0, ecg_focus: str = "both"
) -> Path:
    """Path of the cached synthetic cohort, generating it first if it is not there yet."""
    path = default_cohort_dir(n, seed, ecg_strength=ecg_strength, ecg_focus=ecg_focus)
    if not (path / "provenance.json").exists():
        try:
            generate_synthetic(path, n, seed, ecg_strength=ecg_strength, ecg_focus=ecg_focus, progress=progress)
        except FileExistsError:  # another process finished it first
            pass
    return path


register_source("synthetic", seeded_draws=True,
                los_definition="ICU length of stay: from ICU admission to ICU discharge (simulated stays)")  # every cohort is a draw of generate_synthetic; its seed is in provenance.json
