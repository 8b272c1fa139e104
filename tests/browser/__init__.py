"""Real-browser tests: a `streamlit run` server driven by Debian's Chromium (marker ``browser``)."""
