"""LeMoF Explorer: `streamlit run app.py`. The router (ui/router.py)."""

import logging
from ui import router

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
router.route().run()
