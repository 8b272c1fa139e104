"""What a network is and how it is built: fusion names (``fusions``), the torch-free spec and heads
(``spec``), encoders by name (``registry``, ``encoders/``), the networks (``model``, ``baselines``,
registered in ``networks``), the tabular peer (``gbm``) and batched inference (``inference``).
Importing this package imports nothing else (no torch)."""
