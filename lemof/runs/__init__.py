"""Run directories (load, save, check a run fits a cohort) and the catalog of runs and cohorts. No torch at import."""
