"""The broker workbench (Streamlit): `techmatch ui` runs this script. Pages call the service layer only."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run ui/app.py` from anywhere

from ui import render
from ui.i18n import t
from ui.state import get_service
from ui.views import batch, challenges, dashboard, listings, pipeline, queue

PAGES = {"queue": queue, "pipeline": pipeline, "listings": listings, "challenges": challenges,
         "dashboard": dashboard, "batch": batch}

st.set_page_config(page_title="techmatch 技术供需对接", page_icon="🔗", layout="wide")
st.markdown(render.CSS, unsafe_allow_html=True)
with st.sidebar:
    title = st.empty()  # filled once the language is known, but shown above the switch
    lang = "en" if st.radio(t("language"), ["中文", "English"], horizontal=True, key="lang") == "English" else "zh"
    title.title(t("app_title", lang))
    page = st.radio(t("page", lang), list(PAGES), format_func=lambda p: t(p, lang), key="page")
    broker = st.text_input(t("broker", lang), value="经纪人", key="broker", max_chars=50)
service = get_service()
PAGES[page].render(service, lang, f"workbench:{broker.strip() or '经纪人'}")
