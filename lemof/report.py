"""A case report: one stay's review as one self-contained HTML file that opens offline.

Prediction and interval next to the observed LOS, the patient context, every explanation
figure (interactive Plotly, its JavaScript inlined once, so no request leaves the file), the
input drivers in words, and what produced it: model, cohort, code version and the date.

Every value that is not the report's own text (cohort and run text above all: names, care units,
feature labels, the fingerprint a bundle declares) goes through ``lemof.plots.text.literal``, the
escape the figures use too, so a bundle cannot put markup or script into the page; the figures'
JSON is embedded by Plotly with ``<``, ``>`` and ``/`` written as ``\\u`` escapes, so no figure
text can close its ``<script>`` element.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import plotly.graph_objects as go

from lemof import __version__
from lemof.data.bundle import CohortBundle
from lemof.ecg.findings import measurements_text, present_text
from lemof.explain.drivers import allocation_note, rest_shown_days, shown, sum_text
from lemof.explain.explainers import unavailable
from lemof.explain.similar import PERCENTILE_NOTE
from lemof.explain.results import CohortResults, StayResults
from lemof.errors import OutputError
from lemof.paths import safe_name, write_bytes_atomic
from lemof.plots import (
    attention_figure,
    contributions_figure,
    ehr_attribution_figure,
    feature_title,
    level_shap_figure,
    signal_attribution_figure,
    signal_figure,
    stay_ecg_figure,
    static_attribution_figure,
    timeline_figure,
    tree_shap_figure,
)
from lemof.plots.style import alt_text
from lemof.plots.text import literal
from lemof.runs.run import Run

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#111;padding:0 1rem}
h1{margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.meta{color:#555;font-size:.9rem} .tiles{display:flex;gap:2rem;margin:1rem 0} .tile div:first-child{color:#555;font-size:.85rem}
.tile div:last-child{font-size:1.6rem} .note{background:#f4f6fa;border-left:4px solid #0072B2;padding:.6rem 1rem}
.alt{color:#444;font-size:.9rem;margin:.2rem 0 1.2rem} li{margin:.3rem 0}
"""


def _code_version() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"lemof {__version__}" + (f" (git {commit})" if commit else "")


def _figure(fig: go.Figure | None, first: list[bool]) -> str:
    if fig is None:
        return ""
    include = first[0]
    first[0] = False
    div = fig.to_html(full_html=False, include_plotlyjs=include, config={"displaylogo": False})
    alt = literal(alt_text(fig))
    return f'<figure role="img" aria-label="{alt}">{div}<figcaption class="alt">{alt}</figcaption></figure>'


def _drivers_html(results: StayResults, first: list[bool]) -> str:
    drivers = results.attribute("drivers")
    attr = results.input_gradients
    named = shown(drivers)
    out = (
        f"<h2>Input drivers, in words</h2><p>A typical stay of this cohort: <b>{drivers.base:.1f} d</b>.</p><ol>"
        + "".join(f"<li>{literal(drivers.texts[i])}</li>" for i in named)
        + f"<li>Everything else: {rest_shown_days(drivers):+.1f} d.</li></ol><p><b>{literal(sum_text(drivers))}</b></p>"
        + f"<p class='alt'>{literal(allocation_note(drivers))} Figures below: {literal(attr.method)}, in log1p-days.</p>"
    )
    labels = {f["name"]: feature_title(f) for f in results.bundle.features["ehr"]["features"]}
    ecg = results.context.signal_kind == "ecg"
    signal_fig = stay_ecg_figure(results.context, attr) if ecg else signal_attribution_figure(attr, results.sig_label)
    return out + "".join(_figure(fig, first) for fig in (ehr_attribution_figure(attr, labels), static_attribution_figure(attr), signal_fig))


def _tree_shap_html(results: StayResults, first: list[bool]) -> str:
    tree = results.attribute("tree_shap")
    los = results.prediction.los_days
    return (
        f"<h2>Why this prediction: TreeSHAP</h2><p>Base value {tree.base:.3f} + TreeSHAP contributions {tree.total:+.3f} = prediction {tree.output:.3f} log1p-days "
        f"= {los:.1f} days ({literal(tree.note)})</p>" + _figure(tree_shap_figure(tree, los, sig_label=results.sig_label), first)
    )


def _level_shap_html(results: StayResults, first: list[bool]) -> str:
    return "<h2>The model's levels</h2>" + _figure(level_shap_figure(results.attribute("level_shap"), results.sig_label, concepts=results.concepts), first)


def _heads_html(results: StayResults, first: list[bool]) -> str:
    return _figure(contributions_figure(results.attribute("heads"), results.prediction.los_days, results.sig_label), first)


def _attention_html(results: StayResults, first: list[bool]) -> str:
    fig = attention_figure(results.attention, sig_label=results.sig_label)
    return _figure(fig, first) if fig is not None else f"<p class='note'>No cross-modal attention: no {literal(results.sig_label)}.</p>"


def _similar_html(results: StayResults, first: list[bool]) -> str:
    similar = results.similar(10)
    pred = results.prediction
    rows = "".join(f"<tr><td>{n.stay_id}</td><td>{n.percentile:.1f}</td><td>{n.observed_los_days:.1f}</td></tr>" for n in similar.neighbours)
    return (
        f"<h2>Similar stays</h2><p>{literal(similar.sentence(pred.los_days, pred.observed_los_days))}</p>"
        f"<p><b>What they share</b>: {literal(similar.shared)}.</p><table><tr><th>stay</th><th>percentile</th><th>observed LOS (days)</th></tr>{rows}</table>"
        f"<p class='alt'>{literal(PERCENTILE_NOTE)}</p>"
    )


# Each explanation's section, by the explainer's or view's name (``lemof.explain.explainers``,
# ``lemof.explain.views``); the report shows those that apply to the run, in this order.
_SECTIONS = {"drivers": _drivers_html, "tree_shap": _tree_shap_html, "level_shap": _level_shap_html, "heads": _heads_html,
             "similar": _similar_html, "attention": _attention_html}


def case_report_html(results: StayResults) -> str:
    """The HTML of one stay's case report, from the stay's results object (what the page has
    computed already is reused; raises the errors of ``StayResults``)."""

    run, bundle = results.run, results.bundle
    sig_label = results.sig_label
    pred = results.prediction
    sid = pred.stay_id
    pc = results.context
    first = [True]
    parts: list[str] = []
    lo, hi = pred.interval_days
    parts.append(
        f'<div class="tiles"><div class="tile"><div>Predicted LOS</div><div>{pred.los_days:.1f} days</div></div>'
        f'<div class="tile"><div>{100 * pred.interval_level:.0f} % prediction interval</div><div>{lo:.1f} – {hi:.1f} days</div></div>'
        f'<div class="tile"><div>Observed LOS</div><div>{pred.observed_los_days:.1f} days</div></div>'
        f'<div class="tile"><div>{literal(sig_label)}</div><div>{"recorded" if pred.has_signal else "absent"}</div></div></div>'
    )
    if pred.split != "test":
        parts.append(f'<p class="note">This stay is in the <b>{literal(pred.split)}</b> split: the model saw it while training.</p>')
    facts = " · ".join(f"<b>{literal(label)}</b>: {literal(value)}" for label, value in pc.facts)
    parts.append(f"<h2>Patient context</h2><p>{facts}</p>")
    hours = bundle.features["ehr"]["n_steps"] * bundle.ehr_step_hours
    parts.append(_figure(timeline_figure(pc, hours), first))
    if pc.unmeasured:
        parts.append(f"<p class='alt'>Not measured in this window: {literal(', '.join(pc.unmeasured))}.</p>")
    signal_fig = stay_ecg_figure(pc) if pc.signal_kind == "ecg" else signal_figure(pc, None, results.attention_received)
    if results.ecg is not None:
        parts.append(f"<p><b>ECG measured</b>: {literal(measurements_text(results.ecg))}</p><p><b>Findings</b>: {literal(present_text(results.ecg_findings()))}</p>")
    parts.append(_figure(signal_fig, first) if pc.signal is not None else f"<p class='note'>No {literal(sig_label)} for this stay: its heads are absent from the prediction, not counted as normal.</p>")
    names = [e.name for e in results.explainers] + [v.name for v in results.views]
    missing = unavailable(run)
    if missing:
        parts.append(f"<p class='note'>{literal(missing)}</p>")
    parts += [_SECTIONS[name](results, first) for name in names if name in _SECTIONS]
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    header = (
        f"<h1>Case report: ICU stay {literal(sid)}</h1><p class='meta'>Model <b>{literal(run.run_id)}</b> ({literal(run.fusion)}, {literal(run.encoders)}, "
        f"trained on {literal(run.cohort.name)}) · cohort <b>{literal(bundle.name)}</b> ({literal(bundle.source)}, fingerprint {literal(bundle.fingerprint[:16])}) · "
        f"{literal(_code_version())} · {literal(when)}</p>"
        + (f"<p class='meta'>Data: {literal(bundle.provenance['citation'])}</p>" if bundle.provenance.get("citation") else "")
        + "<p class='note'>Research software, not a medical device.</p>"
    )
    body = header + "".join(parts)
    return f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Case report {literal(sid)}</title><style>{_CSS}</style></head><body>{body}</body></html>"


def report_file_name(stay_id: int | str, run_id: str) -> str:
    """The file name a case report is offered under (the app's download): one safe component,
    ``case-report-<stay>-<run>.html``, whatever the run's directory is called."""
    return safe_name(f"case-report-{stay_id}-{run_id}", max_len=160) + ".html"


def write_case_report(run: Run, bundle: CohortBundle, stay_id: int | str, out: str | Path, *, user: str, via: str = "cli") -> Path:
    """Write the case report of one stay to ``out`` (atomically), once its ``report.write`` entry
    (``user``, run, cohort, stay, file) is on disk in the audit log: no report without its entry.
    That entry records the attempt; if the file then cannot be written, a ``report.write_failed``
    entry (the same fields and the reason) records the outcome and ``OutputError`` is raised, so
    the log never claims a report that does not exist without saying so.
    ``out`` is an operator-chosen path (the CLI's ``--out``), used as given."""
    from lemof.audit import audit_log  # the audit log is a concern of writing a report, not of drawing one

    out = Path(out)
    results = CohortResults(run, bundle).stay(stay_id)
    page = case_report_html(results).encode("utf-8")
    log = audit_log()
    entry = dict(user=user, via=via, cohort=bundle.name, fingerprint=bundle.fingerprint, run=run.run_id, stay=int(results.stay_id), out=str(out.resolve()))
    log.append("report.write", **entry)
    try:
        write_bytes_atomic(out, page)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        log.append("report.write_failed", **entry, error=reason)
        raise OutputError(f"cannot write the report {out}: {reason}") from None
    return out
