"""Worklist: the stays to review under the active model, with their review status."""

from ui import access, context, worklist

ctx = context.current()
access.viewed("worklist", ctx.cohort.key, ctx.run_entry.run_id)
worklist.page(ctx)
