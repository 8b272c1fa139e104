"""LeMoF Explorer: `streamlit run app.py`. Router, sidebar and page registry only."""

import logging

import streamlit as st

from pages.ui.state import sidebar_context

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="LeMoF Explorer", page_icon=":material/monitor_heart:", layout="wide")

pages = [
    st.Page("pages/case_review.py", title="Case review", icon=":material/person_search:", default=True),
    st.Page("pages/model_card.py", title="Model and cohort", icon=":material/insights:"),
]
nav = st.navigation(pages)
st.session_state["active_context"] = sidebar_context()
st.sidebar.caption(
    "LeMoF Explorer · research software, not a medical device. Synthetic data is generated; "
    "PhysioNet/MIMIC data keep their own licences."
)
nav.run()
