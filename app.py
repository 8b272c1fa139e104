"""LeMoF Explorer: `streamlit run app.py`. Page registry, sidebar, router."""

import logging
from pathlib import Path

import streamlit as st

from ui import context, sidebar

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="LeMoF Explorer", page_icon=str(Path(__file__).parent / "assets" / "logo.png"), layout="wide")

PAGES = [
    st.Page("pages/case_review.py", title="Case review", icon=":material/person_search:", default=True),
    st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:"),
    st.Page("pages/model_card.py", title="Model and cohort", icon=":material/insights:"),
]
page = st.navigation(PAGES)
context.follow_page_link(PAGES, page)
context.publish(sidebar.render())
page.run()
