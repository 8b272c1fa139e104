"""Library tests: no Streamlit page is run (no AppTest, no browser)."""
