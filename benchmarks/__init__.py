"""Scripts that measure speed, memory and accuracy and save their numbers in ``benchmarks/results/``.

Run each from the repository root as a module: ``python -m benchmarks.bench_<name> [options]``
(the root is then on ``sys.path``, so ``lemof`` and the shared harness ``testkit`` import as they are).
"""
