"""Benchmark evidence: the grids' forest plots and the level-pair result, interactive."""

from ui import access, context, evidence

ctx = context.current()
access.viewed("evidence", ctx.cohort.key, ctx.run_entry.run_id)
evidence.page()
