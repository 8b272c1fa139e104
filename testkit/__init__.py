"""The harness shared by the tests and the benchmarks (not part of the library).

- ``paths``: the repository, the app script and the shipped runs;
- ``cohorts``: the tiny training configuration, the tiny and default cohorts, bundle copies;
- ``fresh``: run a snippet (or the ``lemof`` CLI) in a fresh Python process;
- ``browser``: a ``streamlit run`` server, Debian's Chromium, and the page-timing loop;
- ``apptest``, ``hostile``: checks on AppTest pages and on hostile text;
- ``shard_probe``: ``python -m testkit.shard_probe ARGS`` records what each training process sees.

Everything is imported as ``testkit.<module>`` from the repository root (pytest's ``pythonpath``;
``python -m benchmarks.<name>`` runs from the root), so nothing edits ``sys.path``.
"""
