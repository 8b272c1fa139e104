"""LeMoF Explorer: `streamlit run app.py`. Page config, then the router (ui/router.py)."""

import logging
from pathlib import Path

import streamlit as st

from ui import router

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="LeMoF Explorer", page_icon=str(Path(__file__).parent / "assets" / "logo.png"), layout="wide")
router.route().run()
