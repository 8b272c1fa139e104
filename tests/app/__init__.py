"""Page tests: Streamlit's AppTest runs app.py in this process (no server, no browser)."""
