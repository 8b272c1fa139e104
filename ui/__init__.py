"""Streamlit building blocks shared by the pages (not pages themselves; no model code here).

- ``ui.loaders``: cached, shared loading of runs, cohorts and the per-stay results objects;
- ``ui.links``: applying a ``?param=`` link once and mirroring a choice back into the URL;
- ``ui.context``: the active cohort, run and stay, built once per script run by the sidebar;
- ``ui.sidebar``: the cohort and model selectors (the single source of truth) and deep links;
- ``ui.widgets``: how every chart, error and warning is shown;
- ``ui.access``: sign-in, roles and the audit entries of a visitor (runs before anything else);
- ``ui.router``: the page registry and the hand-over of the active context;
- ``ui.case``, ``ui.compare``, ``ui.cohort``, ``ui.model_card``, ``ui.retrain``: the sections of the pages.
"""
