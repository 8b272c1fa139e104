"""Evaluation: metrics, bootstrap statistics, a run's predictions on a cohort, comparison of runs, and the
cohort view with its parts (long_stay, reliability, spread, subgroups)."""
