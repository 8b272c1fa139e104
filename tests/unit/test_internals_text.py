"""The model-internals figures written for their reader (issue 23): each title names the number it
explains in days and, when that is not the prediction, which part of the model it is; level labels
say what a level encodes across the cohort, never a fact about the patient; no text is cut off in
a 570 px column (a 1280 px page in two columns; 1440 px gives 650 px); one colour, one meaning."""

from __future__ import annotations

import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from lemof import open_bundle
from lemof.explain.concepts import level_labels
from lemof.explain.results import CohortResults
from lemof.plots import (
    attention_figure,
    contributions_figure,
    ehr_attribution_figure,
    head_table_rows,
    level_concepts_figure,
    level_shap_figure,
    signal_attribution_figure,
    static_attribution_figure,
)
from lemof.plots.style import DIVERGING, FONT_PX, HEAD_KIND_COLOURS, MODALITY_COLOURS, SUBTITLE_PX, TITLE_PX, text_px
from lemof.plots.text import plain
from lemof.runs.load import load_run

COLUMN = 570  # px: the narrower of the two page widths the issue names (1280 px, two columns)
JARGON = ("ϕ", "φ", "log1p", "meta-learner", "Σ", "wᵢ")


@pytest.fixture(scope="module")
def stays(tiny_run, tiny_cohort, stay_ids):
    results = CohortResults(load_run(tiny_run), open_bundle(tiny_cohort))
    return {which: results.stay(stay_ids[which]) for which in ("with_signal", "without_signal")}


def _figures(stay) -> dict[str, go.Figure]:
    pred = stay.prediction.los_days
    figs = {
        "level_shap": level_shap_figure(stay.attribute("level_shap"), stay.sig_label, concepts=stay.concepts, prediction_days=pred),
        "heads": contributions_figure(stay.attribute("heads"), pred, stay.sig_label),
    }
    if stay.attention is not None:
        figs["attention"] = attention_figure(stay.attention, sig_label=stay.sig_label)
    return figs


def _title_lines(fig: go.Figure) -> list[tuple[str, float]]:
    """Every line of the title and subtitle with its font size."""
    title = fig.layout.title
    lines = [(line, TITLE_PX) for line in (title.text or "").split("<br>")]
    if title.subtitle and title.subtitle.text:
        lines += [(line, SUBTITLE_PX) for line in title.subtitle.text.split("<br>")]
    return lines


def _reader_text(fig: go.Figure) -> str:
    """Title, subtitle, axis titles, legend names and hover text: what a reader sees without the alt text."""
    layout = fig.layout
    parts = [line for line, _ in _title_lines(fig)]
    parts += [ax.title.text or "" for ax in (layout.xaxis, layout.yaxis)]
    for trace in fig.data:
        parts += [trace.name or "", getattr(trace, "hovertemplate", None) or ""]
        custom = getattr(trace, "customdata", None)
        if custom is not None:
            parts += [str(c) for c in np.ravel(custom)]
    return plain(" ".join(str(p) for p in parts))


@pytest.mark.parametrize("which", ["with_signal", "without_signal"])
def test_titles_name_the_number_they_explain_in_days(stays, which):
    stay = stays[which]
    pred = stay.prediction.los_days
    figs = _figures(stay)
    shap, heads = stay.attribute("level_shap"), figs["heads"]
    shap_title = plain(figs["level_shap"].layout.title.text)
    shap_sub = plain(figs["level_shap"].layout.title.subtitle.text)
    # the level stacker's estimate in days, and that it is not the prediction, with the prediction beside it
    stacker_days = math.expm1(shap.output)
    assert "level stacker" in shap_title and re.search(r"(\d+\.\d+) d", shap_title)
    assert float(re.search(r"(-?\d+\.\d+) d", shap_title).group(1)) == pytest.approx(stacker_days, abs=0.051 if abs(stacker_days) >= 1 else 0.0051)
    assert "weight 0 in the prediction" in shap_sub and f"prediction is {pred:.1f} d" in shap_sub
    # the waterfall explains the prediction itself, in days
    heads_title = plain(heads.layout.title.text)
    assert heads_title.startswith(f"How the prediction, {pred:.1f} d,")
    for name, fig in figs.items():
        text = _reader_text(fig)
        assert not [j for j in JARGON if j in text], (name, text)


def test_head_lines_give_each_heads_own_prediction_in_days_and_its_weight(stays):
    stay = stays["with_signal"]
    expl = stay.attribute("heads")
    fig = contributions_figure(expl, stay.prediction.los_days, stay.sig_label)
    labels = [plain(re.sub(r"<[^>]+>", " ", y)) for y in fig.data[0].y]
    for name, value, pred, weight in zip(expl.names, expl.values, expl.detail["head_predictions"], expl.detail["weights"]):
        if value is None:
            continue
        own = math.expm1(pred)
        shown = f"{own:.2f} d" if abs(own) < 1 else f"{own:.1f} d"
        line = [l for l in labels if f"alone {shown}" in l]
        assert line, (name, shown, labels)
        if value == 0.0:
            assert any("weight 0: not used" in l for l in line)
        else:
            assert any(f"weight {weight:.2f}" in l for l in line)
    rows = head_table_rows(expl, stay.sig_label)
    assert {"head", "kind", "alone predicts (days)", "weight", "adds (log scale)"} <= set(rows[0])


def test_level_shap_says_it_explains_a_number_other_than_the_prediction(stays):
    shap, heads = stays["with_signal"].attribute("level_shap"), stays["with_signal"].attribute("heads")
    assert "not an input of the prediction" in shap.explains and "level stacker" in shap.explains
    assert heads.explains.startswith("the prediction")


def _level_concepts(scores: dict[str, dict[str, float]]) -> dict:
    concepts = {"AF": "binary", "wide QRS": "binary", "renal": "continuous", "elective": "binary"}
    return {
        "concepts": {c: {"definition": c, "kind": k} for c, k in concepts.items()},
        "levels": {level: {c: {"score": s, "lo": s - 0.05, "hi": s + 0.05, "n": 100} for c, s in row.items()} for level, row in scores.items()},
        "thresholds": {"binary": 0.8, "continuous": 0.3},
    }


def test_level_labels_name_the_best_probe_and_drop_a_label_every_level_shares():
    obj = _level_concepts({
        # EHR: every level's best probe is "elective" -> no label on any EHR level
        "ehr.L1": {"elective": 0.99, "AF": 0.85},
        "ehr.L2": {"elective": 0.98, "renal": 0.6},
        # ECG: the levels differ -> each says its own best probe; a level with none above threshold says nothing
        "sig.L1": {"wide QRS": 0.91, "AF": 0.82},
        "sig.L2": {"AF": 0.89, "wide QRS": 0.81},
        "sig.L3": {"AF": 0.7},
        "sig.L4": {"renal": 0.65},
    })
    labels = level_labels(obj, list(obj["levels"]))
    assert labels["ehr.L1"] == labels["ehr.L2"] == ""
    assert labels["sig.L1"] == "best probe: wide QRS, AUROC 0.91"
    assert labels["sig.L2"] == "best probe: AF, AUROC 0.89"
    assert labels["sig.L3"] == ""
    assert labels["sig.L4"] == "best probe: renal, R² 0.65"
    for label in labels.values():
        assert label == "" or re.fullmatch(r"best probe: [^,]+, (AUROC|R²) [01]\.\d\d", label), label
    # one level of a modality: its label distinguishes it from nothing, but says what it encodes
    assert level_labels(obj, ["ehr.L1", "sig.L1", "sig.L2"])["ehr.L1"] == "best probe: elective, AUROC 0.99"
    assert level_labels(None, ["ehr.L1"]) == {"ehr.L1": ""}


def test_level_chart_draws_no_patient_fact_suffix(stays):
    stay = stays["with_signal"]
    fig = level_shap_figure(stay.attribute("level_shap"), stay.sig_label, concepts=stay.concepts)
    ticks = [y for trace in fig.data for y in (trace.y or [])]
    assert ticks and not any(" · " in plain(t) for t in ticks)
    for level, label in stay.concepts.labels.items():
        if label:
            assert any(label in plain(t) for t in ticks), (level, label)


def _fits(fig: go.Figure, name: str, width: int = COLUMN) -> None:
    """Every title line fits the column from its left pad (10 px), and the legend starts below the
    title block. ``text_px`` counts 0.6 em per character, above the average width of Plotly's
    default font (Open Sans, about 0.5 em), so a line that passes here is not cut in the browser."""
    for line, size in _title_lines(fig):
        assert 10 + text_px(line, size) <= width, (name, line, text_px(line, size))
    for a in fig.layout.annotations:
        assert text_px(a.text, (a.font.size if a.font and a.font.size else FONT_PX)) <= width - 20, (name, a.text)
    lines = len(_title_lines(fig))
    if lines and fig.layout.legend.yref == "container" and any(t.showlegend is not False and t.name for t in fig.data):
        legend_top_px = (1 - fig.layout.legend.y) * fig.layout.height
        assert legend_top_px >= 8 + 17 * lines, (name, "the legend would sit over the title")
        assert fig.layout.margin.t >= legend_top_px + 20, (name, "the legend would sit over the plot area")
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert axis.automargin, (name, "tick labels and axis titles push the margins")
        if axis.title and axis.title.text:
            assert text_px(axis.title.text, FONT_PX) <= width - 250, (name, axis.title.text)  # centred on a plot area of at least 320 px
    for trace in fig.data:
        if isinstance(trace, go.Bar) and trace.textposition == "outside" and trace.text is not None:
            widest = max(text_px(str(t), FONT_PX) for t in trace.text)
            assert fig.layout.margin.r >= widest, (name, "a value beside the right-most bar spills into the right margin, which must hold it")


@pytest.mark.parametrize("which", ["with_signal", "without_signal"])
def test_no_text_is_cut_off_in_a_column(stays, which):
    stay = stays[which]
    figs = _figures(stay)
    attr = stay.input_gradients if which == "with_signal" else None
    if attr is not None:
        figs["ehr_attribution"] = ehr_attribution_figure(attr)
        figs["static_attribution"] = static_attribution_figure(attr)
        sig = signal_attribution_figure(attr, stay.sig_label)
        if sig is not None:
            figs["signal_attribution"] = sig
    if stay.run.level_concepts is not None:
        figs["level_concepts"] = level_concepts_figure(stay.run.level_concepts, set(), stay.sig_label)
    for name, fig in figs.items():
        _fits(fig, name)


def test_channel_names_are_drawn_level_not_as_rotated_axis_titles(stays):
    stay = stays["with_signal"]
    fig = signal_attribution_figure(stay.input_gradients, stay.sig_label)
    assert fig is not None
    layout = fig.to_dict()["layout"]
    rotated = [v.get("title", {}).get("text") for k, v in layout.items() if k.startswith("yaxis") and v.get("title", {}).get("text")]
    assert rotated == [], "a rotated 'I' reads as '—' and 'II' as '='"
    names = {plain(a.text) for a in fig.layout.annotations if a.textangle in (None, 0)}
    assert set(stay.input_gradients.sig_channels) <= names


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)], dtype=float)


def test_one_colour_one_meaning():
    modality = [MODALITY_COLOURS[m] for m in ("ehr", "sig", "fused")]
    assert len(set(modality)) == 3
    assert HEAD_KIND_COLOURS["cross-modal"] == MODALITY_COLOURS["fused"], "the cross-modal head has the fused colour everywhere"
    # neither end of the signed scale may read as a modality: every stop at least 60 (RGB distance) from each modality colour
    for _, stop in DIVERGING:
        for colour in modality:
            assert np.linalg.norm(_rgb(stop) - _rgb(colour)) > 60, (stop, colour)


def test_waterfall_colours_heads_by_modality(stays):
    stay = stays["with_signal"]
    expl = stay.attribute("heads")
    fig = contributions_figure(expl, stay.prediction.los_days, stay.sig_label)
    labels, colours = list(fig.data[0].y), list(fig.data[0].marker.color)
    for name, value in zip(expl.names, expl.values):
        if value is None:
            continue
        want = MODALITY_COLOURS["fused" if name == "fusion" else name.split(".")[0]]
        row = [c for l, c in zip(labels, colours) if plain(l).startswith(("Cross-modal" if name == "fusion" else ("EHR" if name.startswith("ehr") else stay.sig_label)))]
        assert want in row, (name, row)
