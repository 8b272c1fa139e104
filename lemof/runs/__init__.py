"""Run directories — their files and formats (``layout.py`` lists them), loading, saving, checking a
run fits a cohort — and the catalog of runs and cohorts. No torch at import."""
