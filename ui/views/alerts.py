"""Alerts in the workbench: the daily digest of new counterparts and saved-search hits, and the subscriptions
behind it (own listings or a saved search, an optional webhook, the Atom feed's address)."""

from __future__ import annotations

import html

import streamlit as st

from matcher.access import Principal
from matcher.alerts.subscriptions import OWN_SIDE
from matcher.app import App
from matcher.errors import TechmatchError
from ui import state
from ui.forms import error_text
from ui.i18n import t
from ui.render import badge, local_time


def _create(service: App, who: Principal, lang: str) -> None:
    """(Form callback) subscribe: it runs before the page is drawn again, so the list above shows the new
    subscription at once (never "no subscriptions yet" beside "subscribed")."""
    session = st.session_state
    kind, side = session.get("s_kind"), session.get("s_watch")
    try:
        sub = service.alerts.create(who, kind, side if kind == "search" or who.privileged else None,
                            session.get("s_query") or "", {"industry": session.get("s_ind_f") or [],
                                                           "district": session.get("s_dist_f") or []},
                            (session.get("s_conf") or 0) / 100, session.get("s_hook") or "", session.get("s_name") or "")
    except TechmatchError as exc:
        state.note("s_error", error_text(exc, lang, service.vocab))
        return
    state.note("s_done", (sub["id"], sub["secret"] if sub["webhook_url"] else None))
    for key in ("s_query", "s_name", "s_hook"):
        session[key] = ""


def _subscribe(service: App, lang: str, who: Principal) -> None:
    v = service.vocab
    done = state.take("s_done")
    if done:
        st.success(t("subscribed", lang, id=done[0]))
        if done[1]:
            st.code(done[1], language=None)
            st.caption(t("secret_once", lang))
    with st.form("subscribe_form", clear_on_submit=False):
        st.radio(t("sub_kind", lang), ["own", "search"], horizontal=True, key="s_kind",
                 format_func=lambda k: t("sub_kind_" + k, lang))
        c1, c2 = st.columns(2)
        c1.selectbox(t("sub_side", lang), ["results", "needs"], key="s_watch", format_func=lambda s: t(s, lang),
                     index=0 if OWN_SIDE.get(who.role, "results") == "results" else 1,
                     help=t("sub_side_help", lang), placeholder=t("choose", lang))
        c2.text_input(t("sub_query", lang), key="s_query", max_chars=2000,
                      placeholder=t("sub_query_placeholder", lang))
        c3, c4, c5 = st.columns([3, 3, 2])
        c3.multiselect(t("cluster", lang), v.industries.codes, format_func=v.industries.namer(lang), key="s_ind_f",
                       placeholder=t("all", lang), select_all=False)
        c4.multiselect(t("district", lang), v.districts.codes, format_func=v.districts.namer(lang), key="s_dist_f",
                       placeholder=t("all", lang), select_all=False)
        c5.slider(t("min_confidence", lang), 0, 90, 30, 5, format="%d%%", key="s_conf")
        c6, c7 = st.columns(2)
        c6.text_input(t("sub_name", lang), key="s_name", max_chars=200)
        c7.text_input(t("webhook_url", lang), key="s_hook", max_chars=500, placeholder="https://…",
                      help=t("webhook_help", lang))
        refused = state.take("s_error")
        if refused:
            st.error(refused)
        st.form_submit_button(t("subscribe", lang), type="primary", on_click=_create, args=(service, who, lang))


def _subscriptions(service: App, lang: str, who: Principal) -> None:
    subs = service.alerts.list_for(who)
    if not subs:
        st.info(t("no_subscriptions", lang))
        return
    for sub in subs:
        what = t("sub_kind_" + sub["kind"], lang) + " · " + t(sub["side"], lang)
        if sub["kind"] == "search":
            what += f" · “{sub['query']}”"
        c1, c2 = st.columns([8, 1])
        c1.markdown(f"**#{sub['id']} {html.escape(sub['name'] or what)}** — {html.escape(what)} · ≥ {sub['min_confidence']:.0%} · "
                    f"{t('alerts_n', lang, n=sub['alerts'])}" + (" · webhook" if sub["webhook_url"] else ""))
        c1.caption(t("feed", lang) + f": `{sub['feed_url']}`")
        c2.button(t("unsubscribe", lang), key=f"s_rm_{sub['id']}", on_click=service.alerts.delete,
                  args=(int(sub["id"]), who))


def _digest(service: App, lang: str, who: Principal) -> None:
    days = service.alerts.digest(who)
    if not days:
        st.info(t("no_alerts", lang))
        return
    for day, items in days[:14]:
        st.markdown(f"#### {day} · {t('alerts_n', lang, n=len(items))}")
        for a in items:
            p = a["payload"]
            listing, mine = p["listing"], p.get("your_listing")
            kind = t("new_need", lang) if listing["side"] == "needs" else t("new_result", lang)
            sure = f"{a['confidence']:.0%}"
            line = f"{badge(kind)} {badge(sure, 'ok')} **{html.escape(listing['title'])}**"
            if listing.get("organisation"):
                line += f" · {html.escape(listing['organisation'])}"
            line += f" · {service.vocab.industries.name(listing['industry'], lang)}"
            if mine:
                line += f" ↔ {t('your_listing', lang)}「{html.escape(mine['title'])}」"
            if a["delivery"]:
                line += " · " + t("delivery_" + a["delivery"], lang)
            st.markdown(line, unsafe_allow_html=True)
            st.caption(f"{local_time(a['created_at'])} · {listing['summary'][:120]}")


def render(service: App, lang: str, who: Principal) -> None:
    """The page (every role: alerts belong to the signed-in organisation)."""
    st.header(t("alerts", lang))
    section = st.radio(t("section", lang), ["digest", "subscriptions"], format_func=lambda n: t(n, lang),
                       key="s_section", horizontal=True, label_visibility="collapsed")
    if section == "digest":
        _digest(service, lang, who)
    else:
        _subscriptions(service, lang, who)
        st.subheader(t("new_subscription", lang))
        _subscribe(service, lang, who)
