"""A case report: one stay's review as one self-contained HTML file that opens offline.

The page's order: who and when, the prediction and interval (the observed LOS only in a
retrospective review), the reasons in days, the ECG's findings, the similar stays; then the
evidence (timeline, biosignal, inputs over time, similar stays) and the model's internals: every explanation
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
from lemof.ecg.findings import machine_text, measurements_text, present_text
from lemof.explain.case_summary import los_definition, prediction_hours, reasons, signal_noun
from lemof.explain.drivers import allocation_note
from lemof.explain.signal_where import stay_story
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
.alt{color:#444;font-size:.9rem;margin:.2rem 0 1.2rem} li{margin:.3rem 0} .lead{font-size:1.15rem}
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


def _first_screen_html(results: StayResults, show_outcomes: bool) -> str:
    """The page's first screen, in the same order: who and when, the prediction and what LOS
    means, the reasons in days, the ECG's findings, the similar stays in one sentence."""
    bundle, pred, pc = results.bundle, results.prediction, results.context
    hours = prediction_hours(bundle)
    lo, hi = pred.interval_days
    out = [f"<p class='lead'><b>{literal(pc.patient_line)}</b> · predicted at hour {hours:g} after ICU admission</p>"]
    tiles = [("Predicted length of stay", f"{pred.los_days:.1f} days"), (f"{100 * pred.interval_level:.0f} % interval", f"{lo:.1f} – {hi:.1f} days")]
    if show_outcomes:
        tiles.append(("Observed length of stay", f"{pred.observed_los_days:.1f} days ({pred.los_days - pred.observed_los_days:+.1f} d error)"))
    out.append('<div class="tiles">' + "".join(f'<div class="tile"><div>{literal(k)}</div><div>{literal(v)}</div></div>' for k, v in tiles) + "</div>")
    definition = los_definition(bundle)
    out.append(f"<p class='alt'>{literal(definition[:1].upper() + definition[1:])}.</p>")
    if pred.split != "test":
        out.append(f'<p class="note">This stay is in the <b>{literal(pred.split)}</b> split: the model saw it while training.</p>')
    found = reasons(results)
    if found is not None:
        out.append(
            f"<h2>Why this prediction</h2><p>Starting point — {literal(found.start_text)}: <b>{found.start_days:.1f} d</b>.</p><ol>"
            + "".join(f"<li>{literal(r.text)}</li>" for r in found.items)
            + f"<li>Everything else: {found.rest_days:+.1f} d.</li></ol><p><b>{literal(found.sum_text)}</b></p><p class='alt'>{literal(found.note)}</p>"
        )
    else:
        out.append(f"<p class='note'>{literal(unavailable(results.run))}</p>")
    if pc.signal is None:
        noun = signal_noun(results.sig_label)
        out.append(f"<p><b>{literal(noun[:1].upper() + noun[1:])}</b>: none recorded for this stay; the prediction uses the EHR alone (its part is absent, not read as normal).</p>")
    elif results.ecg is not None:
        out.append(f"<p><b>ECG</b>: {literal(measurements_text(results.ecg))}. <b>Findings</b>: {literal(present_text(results.ecg_findings()))}.</p>")
    if any(v.name == "similar" for v in results.views):
        similar = results.similar(10)
        out.append(f"<p><b>Similar stays</b>: {literal(similar.sentence(pred.los_days, pred.observed_los_days if show_outcomes else None))}</p>")
    return "".join(out)


def _timeline_html(results: StayResults, first: list[bool]) -> str:
    pc = results.context
    out = f"<h2>EHR timeline</h2>" + _figure(timeline_figure(pc, prediction_hours(results.bundle)), first)
    if pc.unmeasured:
        out += f"<p class='alt'>Not measured in this window: {literal(', '.join(pc.unmeasured))}.</p>"
    return out


def _signal_html(results: StayResults, first: list[bool]) -> str:
    pc = results.context
    if pc.signal is None:
        return ""
    attr = results.input_gradients if results.run.spec is not None else None
    if pc.signal_kind == "ecg":
        fig = stay_ecg_figure(pc, attr)
    else:
        fig = signal_figure(pc, None, results.attention_received)
    story = stay_story(results)
    machine = f"<p><b>The ECG cart's own measurements</b> (MIMIC-IV-ECG): {literal(machine_text(results.ecg, results.ecg_machine))}</p>" if results.ecg_machine else ""
    return f"<h2>{literal(results.sig_label)}</h2>" + _figure(fig, first) + machine + (f"<p>{literal(story)}</p>" if story else "")


def _inputs_html(results: StayResults, first: list[bool]) -> str:
    if results.run.spec is None:
        return ""
    attr = results.input_gradients
    labels = {f["name"]: feature_title(f) for f in results.bundle.features["ehr"]["features"]}
    figs = [ehr_attribution_figure(attr, labels), static_attribution_figure(attr)]
    if results.context.signal_kind != "ecg" and attr.sig is not None:
        figs.append(signal_attribution_figure(attr, results.sig_label))
    return ("<h2>Inputs over time</h2>" + f"<p class='alt'>{literal(allocation_note(results.attribute('drivers')))}</p>"
            + "".join(_figure(fig, first) for fig in figs))


def _tree_shap_html(results: StayResults, first: list[bool]) -> str:
    tree = results.attribute("tree_shap")
    los = results.prediction.los_days
    return "<h2>The trees' summary features</h2>" + f"<p class='alt'>{literal(tree.note)}</p>" + _figure(tree_shap_figure(tree, los, sig_label=results.sig_label), first)


def _level_shap_html(results: StayResults, first: list[bool]) -> str:
    return _figure(level_shap_figure(results.attribute("level_shap"), results.sig_label, concepts=results.concepts, prediction_days=results.prediction.los_days), first)


def _heads_html(results: StayResults, first: list[bool]) -> str:
    return _figure(contributions_figure(results.attribute("heads"), results.prediction.los_days, results.sig_label), first)


def _attention_html(results: StayResults, first: list[bool]) -> str:
    fig = attention_figure(results.attention, sig_label=results.sig_label)
    return _figure(fig, first) if fig is not None else f"<p class='note'>No cross-modal attention: no {literal(results.sig_label)}.</p>"


def _similar_html(results: StayResults, first: list[bool]) -> str:
    similar = results.similar(10)
    rows = "".join(f"<tr><td>{n.stay_id}</td><td>{n.percentile:.1f}</td><td>{n.observed_los_days:.1f}</td></tr>" for n in similar.neighbours)
    return (
        f"<h2>Similar stays</h2><p><b>What they share</b>: {literal(similar.shared)}.</p>"
        f"<table><tr><th>stay</th><th>percentile</th><th>observed LOS (days)</th></tr>{rows}</table><p class='alt'>{literal(PERCENTILE_NOTE)}</p>"
    )


# The evidence, in the page's order (``ui.case.evidence_views``), then the model's internals; each
# section by the explainer's or view's name when it is one (``lemof.explain.explainers`` / ``views``).
_EVIDENCE = (("timeline", _timeline_html), ("signal", _signal_html), ("drivers", _inputs_html), ("similar", _similar_html))
_INTERNALS = {"heads": _heads_html, "level_shap": _level_shap_html, "attention": _attention_html, "tree_shap": _tree_shap_html}


def case_report_html(results: StayResults, *, show_outcomes: bool = False) -> str:
    """The HTML of one stay's case report, from the stay's results object (what the page has
    computed already is reused; raises the errors of ``StayResults``), in the page's order: the
    first screen, the evidence, the model's internals. Outcomes (observed LOS, the error) only
    with ``show_outcomes`` — a retrospective review — as on the page."""
    run, bundle = results.run, results.bundle
    sid = results.stay_id
    first = [True]
    names = {e.name for e in results.explainers} | {v.name for v in results.views} | {"timeline", "signal"}
    parts = [_first_screen_html(results, show_outcomes)]
    parts += [draw(results, first) for name, draw in _EVIDENCE if name in names]
    internals = [draw(results, first) for name, draw in _INTERNALS.items() if name in names]
    if internals:
        parts.append("<h2>Model internals</h2>" + "".join(internals))
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    header = (
        f"<h1>Case report: ICU stay {literal(sid)}</h1><p class='meta'>Model <b>{literal(run.run_id)}</b> ({literal(run.fusion)}, {literal(run.encoders)}, "
        f"trained on {literal(run.cohort.name)}) · cohort <b>{literal(bundle.name)}</b> ({literal(bundle.source)}, fingerprint {literal(bundle.fingerprint[:16])}) · "
        f"{literal(_code_version())} · {literal(when)} · {'retrospective review: outcomes shown' if show_outcomes else 'prospective review: outcomes hidden'}</p>"
        + (f"<p class='meta'>Data: {literal(bundle.provenance['citation'])}</p>" if bundle.provenance.get("citation") else "")
        + "<p class='note'>Research software, not a medical device.</p>"
    )
    body = header + "".join(parts)
    return f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Case report {literal(sid)}</title><style>{_CSS}</style></head><body>{body}</body></html>"


def report_file_name(stay_id: int | str, run_id: str) -> str:
    """The file name a case report is offered under (the app's download): one safe component,
    ``case-report-<stay>-<run>.html``, whatever the run's directory is called."""
    return safe_name(f"case-report-{stay_id}-{run_id}", max_len=160) + ".html"


def write_case_report(run: Run, bundle: CohortBundle, stay_id: int | str, out: str | Path, *, user: str, via: str = "cli", show_outcomes: bool = False) -> Path:
    """Write the case report of one stay to ``out`` (atomically), once its ``report.write`` entry
    (``user``, run, cohort, stay, file) is on disk in the audit log: no report without its entry.
    That entry records the attempt; if the file then cannot be written, a ``report.write_failed``
    entry (the same fields and the reason) records the outcome and ``OutputError`` is raised, so
    the log never claims a report that does not exist without saying so.
    ``out`` is an operator-chosen path (the CLI's ``--out``), used as given."""
    from lemof.audit import audit_log  # the audit log is a concern of writing a report, not of drawing one

    out = Path(out)
    results = CohortResults(run, bundle).stay(stay_id)
    page = case_report_html(results, show_outcomes=show_outcomes).encode("utf-8")
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
