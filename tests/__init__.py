"""The test suite: unit/ (library, no Streamlit page), app/ (Streamlit AppTest), browser/ (a real server in Chromium),
fixtures/ (data generators). Shared fixtures are in conftest.py; helpers shared with the benchmarks are in ``testkit``."""
