"""The library's version, written into every run's ``config.json`` and every report (``lemof.__version__``)."""

__version__ = "0.1.0"
