"""The broker workbench (Streamlit): `techmatch ui` runs this script. Pages call the service layer only."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run ui/app.py` from anywhere

from ui import auth, render, state
from ui.app_pages import PAGES
from ui.i18n import t
from ui.state import get_service

# the widgets whose choices are shown in the chosen language (select boxes, radios, multiselects); widgets keyed
# by an entity (reason:12, target:3:contacted) are matched by their prefix
RELABELLED = ("page", "q_status", "q_ind", "q_dist", "reason", "bulk_reason", "bulk_ids", "pair", "pairing", "target",
              "s_side", "s_ind", "s_open", "n_ind", "n_dist", "n_mat", "n_modes", "r_ind", "r_dist", "r_mat",
              "r_modes", "r_ip", "i_kind", "b_method", "c_need", "c_open", "q_round", "g_org_a", "g_org_b", "s_kind",
              "s_watch", "s_ind_f", "s_dist_f", "p_by", "l_section", "s_section", "a_result")


def _relabel() -> None:
    """(Language switch callback) hand each choice widget its own value again, so the browser redraws choices
    whose labels changed language (without it a select box keeps showing the old language's label)."""
    session = st.session_state
    for key in list(session.keys()):
        if str(key).split(":", 1)[0] in RELABELLED:
            with contextlib.suppress(StreamlitAPIException):
                session[key] = session[key]


st.set_page_config(page_title="techmatch 技术供需对接", page_icon="🔗", layout="wide")
st.markdown(render.CSS, unsafe_allow_html=True)
service = get_service()
if service.load_error is not None:  # a corrupt model file, say: say so instead of failing every page
    st.error(f"{type(service.load_error).__name__}: {service.load_error}")
    st.stop()
with st.sidebar:
    title = st.empty()  # filled once the language is known, but shown above the switch
    lang = "en" if st.radio(t("language"), ["中文", "English"], horizontal=True, key="lang",
                            on_change=_relabel) == "English" else "zh"
    who = auth.current(service)
    # the workbench's name says whose it is: a firm's, an institution's, a broker's or the platform's
    title.title(t("app_title_" + (who.role if who is not None else "signin"), lang))
    if who is not None:
        page = st.radio(t("page", lang), auth.pages_for(who), format_func=lambda p: t(p, lang), key="page")
        state.leave(page)  # the messages of the page left behind go with it
        name = who.user or who.org_name
        role = t("role_" + who.role, lang)
        st.caption(t("signed_in_as", lang, who=f"{name}（{role}）" if lang == "zh" else f"{name} ({role})"))
        if st.button(t("signout", lang), key="signout"):
            auth.sign_out()
            st.rerun()
if who is None:
    auth.sign_in_form(service, lang)
else:
    PAGES[page].render(service, lang, who)
