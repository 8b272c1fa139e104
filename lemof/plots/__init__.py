"""Pure Plotly figures: data in, ``go.Figure`` out. No Streamlit here."""

from lemof.plots.attribution import ehr_attribution_figure, signal_attribution_figure, static_attribution_figure
from lemof.plots.model_card import global_importance_figure, metrics_figure, training_curves_figure
from lemof.plots.context import feature_title, signal_figure, timeline_figure
from lemof.plots.ecg import ecg_figure, stay_ecg_figure
from lemof.plots.style import alt_text, head_label, level_label
from lemof.plots.concepts import level_concepts_compare_figure, level_concepts_figure
from lemof.plots.compare import calibration_figure, level_profile_figure, metrics_ci_figure, scatter_figure, stay_predictions_figure
from lemof.plots.explanation import attention_figure, contributions_figure, head_table_rows, level_shap_figure, span_of, waterfall_range
from lemof.plots.scales import shared_range, shared_span
from lemof.plots.tabular import tree_shap_figure, tree_shap_range, tree_shap_rows

__all__ = [
    "level_concepts_compare_figure",
    "level_concepts_figure",
    "calibration_figure",
    "level_profile_figure",
    "metrics_ci_figure",
    "scatter_figure",
    "shared_range",
    "shared_span",
    "span_of",
    "stay_predictions_figure",
    "waterfall_range",
    "alt_text",
    "attention_figure",
    "ecg_figure",
    "stay_ecg_figure",
    "ehr_attribution_figure",
    "feature_title",
    "head_label",
    "level_label",
    "signal_attribution_figure",
    "static_attribution_figure",
    "contributions_figure",
    "global_importance_figure",
    "head_table_rows",
    "level_shap_figure",
    "metrics_figure",
    "signal_figure",
    "timeline_figure",
    "tree_shap_figure",
    "tree_shap_range",
    "tree_shap_rows",
    "training_curves_figure",
]
