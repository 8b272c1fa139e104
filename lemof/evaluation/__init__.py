"""Evaluation: metrics, bootstrap statistics, a run's predictions on a cohort, comparison of runs, the cohort view."""
