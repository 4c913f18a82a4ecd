"""揭榜挂帅: publish a need as a challenge; see the results that fit it, the applications filed, and (for a firm or an
institution) its own applications and where each stands.

The open challenge is the page's model (`c_sel`, an id); the application form is keyed by the challenge."""

from __future__ import annotations

import datetime as dt
import html

import streamlit as st

from matcher.access import Principal
from matcher.app import App
from matcher.errors import Forbidden, TechmatchError
from matcher.matching import explain
from ui import state
from ui.forms import error_text
from ui.i18n import t
from ui.render import badge, colon, local_time, money

MODEL = "c_sel"
APP_STATUS = {"submitted": "app_submitted", "shortlisted": "app_shortlisted", "declined": "app_declined"}


def _publish(service: App, who: Principal, lang: str) -> None:
    """(Form callback) publish the chosen need as a challenge — held first when it looks like a copy of a challenge
    already published, until "publish anyway" is ticked — and say so."""
    session = st.session_state
    need_id = session.get("c_need")
    if need_id is None:
        state.note("c_error", t("choose_need", lang))
        return
    copies = [d for d in service.catalogue.duplicates("needs", need_id, viewer=who)
              if service.catalogue.get_listing("needs", d["id"]).get("is_challenge")]
    if copies and not session.get("c_force"):
        state.note("c_dup", copies[0])
        return
    deadline = session.get("c_dl")
    try:
        row = service.challenges.publish_challenge(need_id, session.get("c_goal") or "", session.get("c_ind") or "",
                                       deadline.isoformat() if deadline else None, session.get("c_rw"), who.actor)
    except TechmatchError as exc:
        state.note("c_error", error_text(exc, lang, service.vocab))
        return
    state.note("c_flash", t("published", lang, id=row["id"], title=row["title"]))
    state.take("c_dup")
    session["c_force"] = False
    state.choose(MODEL, row["id"])


def _publish_form(service: App, who: Principal, lang: str) -> None:
    if who.role not in ("firm", "broker", "admin"):
        return  # institutions answer challenges; they publish none
    publishable = {"status": ["open"], "is_challenge": False}
    if not who.privileged:  # a firm publishes its own needs only
        publishable["org_id"] = who.org_id
    with st.expander(t("publish_challenge", lang), expanded=bool(state.peek("c_dup") or state.peek("c_error"))):
        needs, _ = service.catalogue.list_listings("needs", publishable, limit=500)
        if not needs:
            st.info(t("nothing_to_publish", lang))
            return
        labels = {n["id"]: f"#{n['id']} {n['title']}" for n in needs}
        with st.form("publish"):
            st.selectbox(t("need", lang), list(labels), format_func=labels.get, key="c_need", index=None,
                         placeholder=t("choose", lang))
            st.text_area(t("goal", lang) + " *", key="c_goal", max_chars=2000)
            st.text_area(t("indicators", lang) + " *", key="c_ind", max_chars=2000)
            c1, c2 = st.columns(2)
            c1.date_input(t("deadline", lang), value=dt.date.today() + dt.timedelta(days=180), key="c_dl",
                          format="YYYY-MM-DD")
            c2.number_input(t("reward", lang), min_value=0.0, max_value=1e8, value=100.0, key="c_rw")
            dup = state.peek("c_dup")
            if dup:
                st.warning(t("challenge_copy", lang, id=dup["id"], title=dup["title"]))
                st.checkbox(t("post_anyway", lang), key="c_force")
            refused = state.take("c_error")
            if refused:
                st.error(refused)
            st.form_submit_button(t("submit", lang), type="primary", on_click=_publish, args=(service, who, lang))


def _mine(service: App, who: Principal, lang: str) -> None:
    """A firm's or an institution's own applications, with where each stands."""
    mine = service.challenges.applications_of(who.org_id)
    st.subheader(t("my_applications", lang))
    if not mine:
        st.caption(t("no_own_applications", lang))
        return
    st.dataframe([{t("challenge", lang): a["challenge_title"], t("status", lang): t(APP_STATUS[a["status"]], lang),
                   t("team", lang): a.get("team") or "", t("when", lang): local_time(a["created_at"])} for a in mine],
                 hide_index=True, width="stretch")


def render(service: App, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    st.header(t("challenges", lang))
    flash = state.take("c_flash")
    if flash:
        st.success(flash)
    _publish_form(service, who, lang)
    if who.role in ("firm", "institution"):
        _mine(service, who, lang)
    rows, _total = service.challenges.list_challenges(limit=200, viewer=who)  # confidential ones: goal and reward hidden
    if not rows:
        st.info(t("no_challenges", lang))
        return
    mark = t("challenge_mark", lang)
    labels = {r["id"]: f"{mark} {r['title']} · {money(r.get('reward'), False, lang) if r.get('reward') else '—'}"
              + (f" · {r['deadline']}" if r.get("deadline") else "") for r in rows}
    ids = list(labels)
    chosen = state.selected(MODEL, ids)
    st.session_state["c_open"] = chosen
    st.radio(t("challenges", lang), ids, format_func=labels.get, key="c_open", on_change=lambda: state.choose(
        MODEL, st.session_state["c_open"]))
    need = next(r for r in rows if r["id"] == chosen)
    sep = colon(lang)
    c1, c2 = st.columns([3, 2])
    with c1:
        secret = badge(t("confidential", lang), "secret") if need["confidentiality"] == "brokers" else ""
        st.markdown(f"### {html.escape(need['title'])} {secret}", unsafe_allow_html=True)
        st.markdown(f"**{t('goal', lang)}**{sep}{need.get('challenge_goal') or '—'}")
        st.markdown(f"**{t('indicators', lang)}**{sep}{need.get('challenge_indicators') or '—'}")
        reward = money(need.get("reward"), False, lang) if need.get("reward") else "—"
        st.markdown(f"**{t('reward', lang)}**{sep}{reward} · **{t('deadline', lang)}**{sep}{need.get('deadline') or '—'}")
        st.subheader(t("fitting_results", lang))
        try:
            fitting = state.cached(("fitting", chosen, who.role, who.org_id, service.indexes.applied_seq),
                                   lambda: service.matching.match_need(chosen, top_k=5, viewer=who))
        except Forbidden:  # a confidential challenge's matches are ranked by the text it withholds
            st.info(t("matches_confidential", lang))
            fitting = []
        for m in fitting:
            sure = f" · {t('confidence', lang)} {m.confidence:.0%}" if m.confidence is not None else ""
            st.markdown(f"**{m.rank}. {m.item['title']}**{sure}")
            fits = m.explanation.get("fits")
            st.caption(explain.summary(m.explanation.get("shared_terms") or [], fits, lang, service.vocab) if fits
                       else m.explanation.get("summary", ""))
    with c2:
        st.subheader(t("applications", lang))
        if who.role in ("institution", "firm") and need.get("org_id") != who.org_id:
            _apply_form(service, chosen, who, lang)
        if who.privileged or need.get("org_id") == who.org_id:
            _applications(service, chosen, who, lang)


def _applications(service: App, need_id: int, who: Principal, lang: str) -> None:
    apps = service.challenges.list_applications(need_id)
    sep = colon(lang)
    for a in apps:
        cited = service.catalogue.get_listing("results", a["result_id"])["title"] if a.get("result_id") else "—"
        head = " · ".join(x for x in (a["org"] or "", a.get("team") or "", t(APP_STATUS[a["status"]], lang)) if x)
        st.markdown(f"**{html.escape(head)}**  \n{html.escape(a['proposal'] or '')}  \n"
                    f"{t('cites', lang)}{sep}{html.escape(cited)} · {local_time(a['created_at'])}")
        if who.privileged:
            b1, b2 = st.columns(2)
            b1.button(t("shortlist", lang), key=f"a_short_{a['id']}", disabled=a["status"] == "shortlisted",
                      on_click=_review, args=(service, a["id"], "shortlisted", who.actor))
            b2.button(t("decline", lang), key=f"a_decl_{a['id']}", disabled=a["status"] == "declined",
                      on_click=_review, args=(service, a["id"], "declined", who.actor))
    if not apps:
        st.info(t("no_applications", lang))


def _review(service: App, app_id: int, status: str, actor: str) -> None:
    """(Button callback) shortlist or decline an application."""
    service.challenges.review_application(app_id, status, actor)


def _apply(service: App, need_id: int, who: Principal, lang: str) -> None:
    """(Form callback) file the application for the caller's organisation; say so, or why not, beside the form."""
    session = st.session_state
    try:
        service.challenges.apply_challenge(need_id, who.org_name, session.get(state.entity_key("a_team", need_id)) or "",
                                           session.get(state.entity_key("a_proposal", need_id)) or "",
                                           session.get(state.entity_key("a_result", need_id)), who.actor)
    except TechmatchError as exc:
        state.note(state.entity_key("a_error", need_id), error_text(exc, lang, service.vocab))
        return
    state.note("c_flash", t("applied", lang))


def _apply_form(service: App, need_id: int, who: Principal, lang: str) -> None:
    """An institution (or firm) applies for its own organisation, citing one of its own results — once per
    challenge: an organisation that applied sees where its application stands instead."""
    standing = [a for a in service.challenges.applications_of(who.org_id)
                if a["need_id"] == need_id and a["status"] in ("submitted", "shortlisted")]
    if standing:
        st.info(t("applied_status", lang, status=t(APP_STATUS[standing[0]["status"]], lang),
                  when=local_time(standing[0]["created_at"])))
        return
    own, _ = service.catalogue.list_listings("results", {"org_id": who.org_id}, limit=200)
    with st.form(state.entity_key("apply", need_id), clear_on_submit=False):
        st.text_input(t("team", lang), key=state.entity_key("a_team", need_id), max_chars=200)
        st.text_area(t("proposal", lang) + " *", key=state.entity_key("a_proposal", need_id), max_chars=5000)
        titles = {r["id"]: f"#{r['id']} {r['title']}" for r in own}
        st.selectbox(t("cites", lang), list(titles), format_func=titles.get, index=None,
                     placeholder=t("cites_none", lang), key=state.entity_key("a_result", need_id))
        refused = state.take(state.entity_key("a_error", need_id))
        if refused:
            st.error(refused)
        st.form_submit_button(t("apply", lang), type="primary", on_click=_apply, args=(service, need_id, who, lang))
