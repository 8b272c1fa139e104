"""The ECG's clinical findings, and which part of each beat carries them.

From the measurements (``lemof.ecg.measure``), three findings a clinician names, each with a
score (for ranking and AUROC), whether it is present, and a sentence:

- ``af``: an irregular rhythm without P waves (the AF pattern): score = the RR irregularity
  (RMSSD / mean RR); present when it exceeds ``IRREGULAR_RR`` and no consistent P wave is found;
- ``wide_qrs``: score = the QRS duration; present at ``WIDE_QRS_MS`` or more (the usual
  120 ms cut-off for a bundle-branch block or ventricular conduction delay);
- ``st_deviation``: score = the largest |ST deviation| at J + 60 ms over the measurable leads;
  present at ``ST_MV`` (1 mm) or more, named by its sign and the leads that share it — but not with
  a wide QRS, whose ST–T changes are secondary to it (the score still ranks; the text says why).

``wave_part(times_s, …)`` assigns every instant of the recording to the part of the beat that
carries a finding — ``qrs`` (each beat's QRS complex), ``st_t`` (from the J point to the end of
T) and ``rhythm`` (everything else: P waves, PR and TP segments, where sinus P waves or AF's
fibrillatory baseline are, and whose length is set by the RR intervals). Summing an input
attribution over these parts splits the ECG's share of a prediction into finding-shaped parts
that add up to it exactly (``lemof.explain.drivers``).

What it cannot separate: an irregular rhythm also moves *where* the QRS complexes fall, so part
of AF's effect on the model can land in the ``qrs`` part; ST and T changes share one part; the
parts are delineated from the median beat's intervals applied to every R peak, not beat by beat.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lemof.ecg.measure import EcgMeasurements

FINDINGS = ("af", "wide_qrs", "st_deviation")
IRREGULAR_RR = 0.10  # RMSSD / mean RR above which the rhythm reads as irregular (lemof.ecg.measure)
WIDE_QRS_MS = 120.0
ST_MV = 0.10  # 1 mm at 10 mm/mV
_DEFAULT_QRS_MS, _DEFAULT_QT_MS = 100.0, 400.0  # where a measurement is missing, to place the parts


@dataclass(frozen=True)
class Finding:
    finding: str  # af | wide_qrs | st_deviation
    present: bool
    score: float | None
    text: str  # what was measured, in words ("QRS 136 ms (wide)")

    def to_dict(self) -> dict:
        return asdict(self)


def _leads_text(leads: list[str]) -> str:
    """The leads in the standard order, consecutive chest leads as a range ("II, III, aVF, V4–V6")."""
    limb = [lead for lead in leads if not lead.startswith("V")]
    chest = sorted((lead for lead in leads if lead.startswith("V") and lead[1:].isdigit()), key=lambda lead: int(lead[1:]))
    runs: list[list[str]] = []
    for lead in chest:
        if runs and int(lead[1:]) == int(runs[-1][-1][1:]) + 1:
            runs[-1].append(lead)
        else:
            runs.append([lead])
    return ", ".join(limb + [r[0] if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs])


def ecg_findings(m: EcgMeasurements) -> list[Finding]:
    """The three findings of one ECG (``FINDINGS`` order)."""
    rr = m.rr_irregularity
    no_p = m.p_waves_present is False
    af = rr is not None and rr > IRREGULAR_RR and no_p
    if rr is None:
        af_text = "Rhythm not measurable"
    elif af:
        af_text = f"Irregular rhythm without P waves (AF pattern; RR variability {rr:.2f})"
    elif rr > IRREGULAR_RR and m.p_waves_present:
        af_text = f"Sinus rhythm with varying RR intervals (P waves present; RR variability {rr:.2f})"
    else:
        regular = "Irregular" if rr > IRREGULAR_RR else "Regular"
        waves = "with P waves" if m.p_waves_present else "without clear P waves" if no_p else "P waves not assessed"
        af_text = f"{regular} rhythm {waves} (RR variability {rr:.2f})"
    qrs = m.qrs_ms
    wide = qrs is not None and qrs >= WIDE_QRS_MS
    qrs_text = "QRS width not measurable" if qrs is None else f"QRS {qrs:.0f} ms ({'wide' if wide else 'normal width'})"
    st = {lead: v for lead, v in m.st_deviation_mv.items() if v is not None and (lead not in m.quality or m.quality[lead].measurable)}
    if st:
        worst = max(st, key=lambda lead: abs(st[lead]))
        peak = st[worst]
        sign = 1.0 if peak >= 0 else -1.0
        shared = [lead for lead, v in st.items() if sign * v >= max(ST_MV / 2, abs(peak) / 2)]
        kind = "elevation" if peak >= 0 else "depression"
        st_present = abs(peak) >= ST_MV and not wide  # a wide QRS brings its own (secondary) ST-T changes
        if abs(peak) >= ST_MV and wide:
            st_text = f"ST {kind} up to {abs(peak):.2f} mV in {_leads_text(shared)}, not read as ischaemia: secondary to the wide QRS"
        elif st_present:
            st_text = f"ST {kind} up to {abs(peak):.2f} mV in {_leads_text(shared)}"
        else:
            st_text = f"No ST deviation of 0.1 mV or more (largest {peak:+.2f} mV in {worst})"
        st_score = abs(peak)
    else:
        st_present, st_text, st_score = False, "ST segments not measurable", None
    return [
        Finding("af", af, None if rr is None else float(rr), af_text),
        Finding("wide_qrs", wide, None if qrs is None else float(qrs), qrs_text),
        Finding("st_deviation", st_present, st_score, st_text),
    ]


def measurements_text(m: EcgMeasurements) -> str:
    """The measurements as a cardiologist writes them, one line: rate, rhythm, PR, QRS, QTc, axis."""

    def ms(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f} ms"

    rhythm = {"irregular": "irregular", "regular": "regular"}.get(m.rhythm or "", "rhythm not measured")
    p = "P waves present" if m.p_waves_present else "no P waves" if m.p_waves_present is False else "P waves not assessed"
    rate = "—" if m.heart_rate_bpm is None else f"{m.heart_rate_bpm:.0f} bpm"
    axis = "—" if m.axis_deg is None else f"{m.axis_deg:+.0f}°"
    return f"Rate {rate}, {rhythm}, {p} · PR {ms(m.pr_ms)} · QRS {ms(m.qrs_ms)} · QTc {ms(m.qtc_ms)} (Fridericia) · axis {axis}"


def present_text(findings: list[Finding]) -> str:
    """The findings present, in one line (what the page and the report print under the ECG)."""
    found = [f.text for f in findings if f.present]
    return "; ".join(found) if found else "none of AF pattern, wide QRS, ST deviation ≥ 0.1 mV"


MACHINE_FIELDS = (("heart_rate_bpm", "rate", "bpm"), ("pr_ms", "PR", "ms"), ("qrs_ms", "QRS", "ms"), ("qt_ms", "QT", "ms"), ("axis_deg", "axis", "°"))


def machine_text(m: EcgMeasurements | None, machine: dict[str, float | None]) -> str:
    """The ECG cart's measurements beside ours, one line: "rate 84 bpm (ours 82) · PR 160 ms (ours 166) · …";
    a value either side did not measure is left out."""
    out = []
    for key, label, unit in MACHINE_FIELDS:
        theirs = machine.get(key)
        if theirs is None:
            continue
        mine = getattr(m, key, None) if m is not None else None
        sep = "" if unit == "°" else " "
        ours = f" (ours {mine:.0f}{sep}{unit})" if mine is not None else " (ours: not measured)"
        out.append(f"{label} {theirs:.0f}{sep}{unit}{ours}")
    return " · ".join(out) if out else "no machine measurements"
