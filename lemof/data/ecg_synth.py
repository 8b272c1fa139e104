"""Synthetic 12-lead ECG: beats from P/QRS/ST/T components, rhythm, wander and noise.

Each stay gets its own beat kernel per lead (a sum of Gaussian components weighted by a
per-lead amplitude table, jittered per stay) convolved, by FFT, with its train of beat
times. Sinus rhythm has small, respiratory RR variation and P waves; atrial fibrillation
has irregular RR, no P waves and low-amplitude fibrillatory waves. Ischaemia shifts the ST
segment in one territory (anterior or inferior) with reciprocal change elsewhere; a wide
QRS widens the R and S waves. Baseline wander, mains hum and white noise come last.
All functions are vectorised over stays and deterministic given the generator.
"""

from __future__ import annotations

import numpy as np

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
FS_HZ = 500
DURATION_S = 10.0
N_SAMPLES = int(FS_HZ * DURATION_S)  # 5000

# Per-lead amplitudes (mV) of each component, a typical adult ECG.
_P = np.array([0.08, 0.15, 0.07, -0.10, 0.04, 0.10, 0.06, 0.08, 0.08, 0.08, 0.08, 0.08])
_R = np.array([0.70, 1.10, 0.40, -0.80, 0.30, 0.70, 0.20, 0.40, 0.80, 1.30, 1.40, 1.10])
_S = np.array([0.10, 0.20, 0.20, 0.10, 0.20, 0.20, 1.00, 1.40, 1.00, 0.50, 0.30, 0.15])
_T = np.array([0.25, 0.35, 0.10, -0.30, 0.12, 0.20, 0.05, 0.45, 0.50, 0.45, 0.35, 0.25])
# ST deviation per unit of injury current, by territory (reciprocal leads negative).
_ST_TERRITORY = np.array(
    [
        [0.0] * 12,  # none
        [0.3, -0.3, -0.4, -0.1, 0.3, -0.4, 0.6, 1.0, 1.0, 0.8, 0.4, 0.2],  # anterior
        [-0.4, 1.0, 1.0, -0.3, -0.6, 1.0, -0.2, -0.3, -0.2, 0.0, 0.2, 0.3],  # inferior
    ]
)
_F_WAVE = np.array([0.3, 0.7, 0.6, -0.4, 0.3, 0.6, 1.0, 0.6, 0.4, 0.3, 0.3, 0.3])

_PAD_BEFORE_S = 0.8  # beats up to this long before the record still show their tails
_KERNEL_T0_S = -0.35  # kernel time of sample 0, relative to the R peak
_KERNEL_LEN = int(0.9 * FS_HZ)  # -0.35 s .. +0.55 s
_MAX_BEATS = 48
_NFFT = 6400  # >= padded record + kernel - 1
_FFT_BATCH = 32


def _gauss(t: np.ndarray, centre: np.ndarray, width: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def beat_times(rng: np.random.Generator, hr_bpm: np.ndarray, af: np.ndarray) -> np.ndarray:
    """R-peak times in seconds, (n, _MAX_BEATS), NaN beyond the padded record.

    Sinus: RR varies by about 2 % plus respiratory sinus arrhythmia. AF: RR log-normal with
    a coefficient of variation of about 22 %, normalised so the mean rate equals ``hr_bpm``.
    """
    n = len(hr_bpm)
    rr0 = 60.0 / np.clip(hr_bpm, 30, 200)  # (n,)
    k = np.arange(_MAX_BEATS)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    sinus = 1.0 + 0.02 * rng.standard_normal((n, _MAX_BEATS)) + 0.03 * np.sin(
        2 * np.pi * 0.25 * k[None, :] * rr0[:, None] + phase
    )
    sigma = 0.22
    irregular = np.exp(sigma * rng.standard_normal((n, _MAX_BEATS)) - 0.5 * sigma**2)
    factor = np.where(af[:, None], irregular, sinus)
    rr = np.maximum(rr0[:, None] * factor, 0.25)  # (n, beats) seconds
    start = -_PAD_BEFORE_S + rng.uniform(0, 1, size=(n, 1)) * rr0[:, None]
    times = start + np.concatenate([np.zeros((n, 1)), np.cumsum(rr[:, :-1], axis=1)], axis=1)
    times[times >= DURATION_S + 0.6] = np.nan
    return times


def _lead_kernels(
    rng: np.random.Generator,
    rr0: np.ndarray,
    af: np.ndarray,
    territory: np.ndarray,
    st_mv: np.ndarray,
    wide_qrs: np.ndarray,
) -> np.ndarray:
    """Beat shape of each lead for each stay, (n, 12, K) in mV."""
    n = len(rr0)
    t = _KERNEL_T0_S + np.arange(_KERNEL_LEN) / FS_HZ  # (K,)
    tt = t[None, :]
    qrs_w = np.where(wide_qrs, 0.024, 0.010)[:, None] * np.exp(0.08 * rng.standard_normal((n, 1)))
    qt = (0.30 * np.sqrt(np.clip(rr0, 0.3, 1.5)))[:, None]  # Bazett-like T position
    comps = np.stack(
        [
            _gauss(tt, -0.16, 0.022) * (~af)[:, None],  # P (absent in AF)
            np.broadcast_to(-_gauss(tt, -0.035, 0.008), (n, _KERNEL_LEN)),  # Q
            _gauss(tt, 0.0, qrs_w),  # R
            -_gauss(tt, 0.028 + 2.2 * (qrs_w - 0.010), qrs_w),  # S
            _sigmoid((tt - 0.05 - 2 * qrs_w) / 0.008) * _sigmoid((qt - 0.02 - tt) / 0.025),  # ST
            _gauss(tt, qt, 0.045 + 0.01 * rng.standard_normal((n, 1))),  # T
        ],
        axis=1,
    )  # (n, 6, K)
    jitter = np.exp(0.15 * rng.standard_normal((n, 4, 12))) * np.exp(0.2 * rng.standard_normal((n, 1, 1)))
    weights = np.stack(
        [
            _P[None, :] * jitter[:, 0],
            0.1 * np.abs(_R)[None, :] * jitter[:, 1],
            _R[None, :] * jitter[:, 1],
            _S[None, :] * jitter[:, 2] * np.where(wide_qrs, 1.3, 1.0)[:, None],
            _ST_TERRITORY[territory] * st_mv[:, None],
            _T[None, :] * jitter[:, 3],
        ],
        axis=1,
    )  # (n, 6, 12)
    return np.einsum("nck,ncl->nlk", comps, weights)


def synthesize_ecg(
    rng: np.random.Generator,
    hr_bpm: np.ndarray,
    af: np.ndarray,
    territory: np.ndarray,
    st_mv: np.ndarray,
    wide_qrs: np.ndarray,
) -> np.ndarray:
    """Ten seconds of 12-lead ECG at 500 Hz for each stay, (n, 12, 5000) float32 in mV.

    hr_bpm: mean heart rate; af: atrial fibrillation (bool); territory: 0 none, 1 anterior,
    2 inferior ST deviation; st_mv: ST shift in mV (signed); wide_qrs: bool.
    """
    n = len(hr_bpm)
    af = np.asarray(af, dtype=bool)
    wide_qrs = np.asarray(wide_qrs, dtype=bool)
    rr0 = 60.0 / np.clip(hr_bpm, 30, 200)
    times = beat_times(rng, hr_bpm, af)
    padded_len = int((DURATION_S + 2 * _PAD_BEFORE_S) * FS_HZ)
    impulses = np.zeros((n, padded_len))
    idx = np.round((times + _PAD_BEFORE_S) * FS_HZ)
    rows, cols = np.nonzero(np.isfinite(idx))
    pos = idx[rows, cols].astype(int)
    keep = (pos >= 0) & (pos < padded_len)
    impulses[rows[keep], pos[keep]] = 1.0
    kernels = _lead_kernels(rng, rr0, af, territory, st_mv, wide_qrs)  # (n, 12, K)
    first = int(round((_PAD_BEFORE_S - _KERNEL_T0_S) * FS_HZ))
    ecg = np.empty((n, len(LEADS), N_SAMPLES))
    for start in range(0, n, _FFT_BATCH):  # batches keep the complex spectra small
        sl = slice(start, start + _FFT_BATCH)
        spec = np.fft.rfft(impulses[sl], _NFFT)[:, None, :] * np.fft.rfft(kernels[sl], _NFFT)
        ecg[sl] = np.fft.irfft(spec, _NFFT)[:, :, first : first + N_SAMPLES]  # (b, 12, 5000)
    t = np.arange(N_SAMPLES) / FS_HZ
    # Atrial fibrillatory waves, 4-8 Hz.
    f_freq = rng.uniform(4.0, 8.0, size=(n, 1))
    f_amp = rng.uniform(0.03, 0.07, size=(n, 1)) * af[:, None]
    fwave = f_amp * np.sin(2 * np.pi * f_freq * t[None, :] + rng.uniform(0, 2 * np.pi, (n, 1)))
    fwave += 0.5 * f_amp * np.sin(2 * np.pi * 1.37 * f_freq * t[None, :] + rng.uniform(0, 2 * np.pi, (n, 1)))
    ecg += fwave[:, None, :] * _F_WAVE[None, :, None]
    # Baseline wander (respiration, movement), shared phase with lead-specific gain.
    w_freq = rng.uniform(0.12, 0.45, size=(n, 1))
    wander = rng.uniform(0.03, 0.2, (n, 1)) * np.sin(2 * np.pi * w_freq * t[None, :] + rng.uniform(0, 2 * np.pi, (n, 1)))
    ecg += wander[:, None, :] * rng.uniform(0.3, 1.0, size=(n, 12, 1))
    # Mains hum in a third of the recordings, then white noise.
    hum = (rng.uniform(size=(n, 1, 1)) < 0.33) * 0.012 * np.sin(2 * np.pi * 50.0 * t)[None, None, :]
    ecg += hum + rng.normal(0.0, 0.012, size=ecg.shape)
    return ecg.astype(np.float32)
