"""Streamlit building blocks shared by the pages (not pages themselves; no model code here).

- ``ui.loaders``: cached, shared loading of runs, cohorts and per-stay explanations;
- ``ui.context``: the active cohort, run and stay, built once per script run by the sidebar;
- ``ui.sidebar``: the cohort and model selectors (the single source of truth) and deep links;
- ``ui.widgets``: how every chart, error and warning is shown;
- ``ui.case``: the sections of the case-review page.
"""
