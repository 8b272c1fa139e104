"""LeMoF Explorer: `streamlit run app.py`. Router, sidebar and page registry only."""

import logging

import streamlit as st

from pages.ui.state import PAGES, page_links, publish_context, sidebar_context

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="LeMoF Explorer", page_icon=":material/monitor_heart:", layout="wide")

nav = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)], position="hidden")
page_links()
publish_context(sidebar_context())
nav.run()
