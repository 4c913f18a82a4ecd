"""揭榜挂帅: publish a need as a challenge; see the results that fit it and the applications filed."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from matcher import review
from matcher.access import Principal, need_view
from matcher.errors import Forbidden, TechmatchError
from matcher.matching import explain
from matcher.service import MatchService
from ui import forms
from ui.i18n import t
from ui.render import badge, local_time


def render(service: MatchService, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    st.header(t("challenges", lang))
    publishable = {"status": ["open"], "is_challenge": False}
    if not who.privileged:  # a firm publishes its own needs only; institutions publish none
        publishable["org_id"] = who.org_id if who.role == "firm" else -1
    with st.expander(t("publish_challenge", lang), expanded=False):
        needs, _ = service.list_listings("needs", publishable, limit=500)
        if needs:
            labels = {n["id"]: f"#{n['id']} {n['title']}" for n in needs}
            with st.form("publish"):
                need_id = st.selectbox(t("need", lang), list(labels), format_func=labels.get, key="c_need")
                goal = st.text_area(t("goal", lang), key="c_goal", max_chars=2000)
                indicators = st.text_area(t("indicators", lang), key="c_ind", max_chars=2000)
                c1, c2 = st.columns(2)
                deadline = c1.date_input(t("deadline", lang), value=dt.date.today() + dt.timedelta(days=180),
                                         key="c_dl")
                reward = c2.number_input(t("reward", lang), min_value=0.0, max_value=1e8, value=100.0, key="c_rw")
                if st.form_submit_button(t("submit", lang), type="primary"):
                    try:
                        review.publish_challenge(service, need_id, goal, indicators, deadline.isoformat(), reward,
                                                 actor)
                    except (TechmatchError, ValueError) as exc:
                        st.error(str(exc))
                    else:
                        st.rerun()
    rows, _total = review.list_challenges(service, limit=200)
    rows = [need_view(r, who) for r in rows]  # a confidential challenge shows its goal and reward to insiders only
    if not rows:
        st.info(t("no_challenges", lang))
        return
    labels = {r["id"]: f"【{t('challenge_mark', lang)}】{r['title']} · {r.get('reward') or '—'} {t('wan_yuan', lang)}"
                        f" · {r.get('deadline') or ''}" for r in rows}
    chosen = st.radio(t("challenges", lang), list(labels), format_func=labels.get, key="c_open")
    need = need_view(next(r for r in rows if r["id"] == chosen), who)
    c1, c2 = st.columns([3, 2])
    with c1:
        secret = badge(t("confidential", lang), "secret") if need["confidentiality"] == "brokers" else ""
        st.markdown(f"### {need['title']} {secret}", unsafe_allow_html=True)
        st.markdown(f"**{t('goal', lang)}**：{need.get('challenge_goal') or '—'}")
        st.markdown(f"**{t('indicators', lang)}**：{need.get('challenge_indicators') or '—'}")
        st.markdown(f"**{t('reward', lang)}**：{need.get('reward') or '—'} · **{t('deadline', lang)}**："
                    f"{need.get('deadline') or '—'}")
        st.subheader(t("fitting_results", lang))
        try:
            fitting = service.match_need(chosen, top_k=5, viewer=who)
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
        if who.role in ("institution", "firm"):
            _apply_form(service, chosen, who, lang)
        if who.privileged or need.get("org_id") == who.org_id:
            apps = review.list_applications(service, chosen)
            for a in apps:
                cited = service.get_listing("results", a["result_id"])["title"] if a.get("result_id") else "—"
                st.markdown(f"**{a['org']}** · {a.get('team') or ''} · {t('app_' + a['status'], lang)}  \n"
                            f"{a['proposal']}  \n{t('cites', lang)}：{cited} · {local_time(a['created_at'])}")
                if who.privileged:
                    b1, b2 = st.columns(2)
                    b1.button(t("shortlist", lang), key=f"a_short_{a['id']}", disabled=a["status"] == "shortlisted",
                              on_click=_review, args=(service, a["id"], "shortlisted", who.actor))
                    b2.button(t("decline", lang), key=f"a_decl_{a['id']}", disabled=a["status"] == "declined",
                              on_click=_review, args=(service, a["id"], "declined", who.actor))
            if not apps:
                st.info(t("no_applications", lang))


def _review(service: MatchService, app_id: int, status: str, actor: str) -> None:
    """(Button callback) shortlist or decline an application."""
    review.review_application(service, app_id, status, actor)


def _apply_form(service: MatchService, need_id: int, who: Principal, lang: str) -> None:
    """An institution (or firm) applies for its own organisation, citing one of its own results."""
    own, _ = service.list_listings("results", {"org_id": who.org_id}, limit=200) if who.org_id else ([], 0)
    with st.form(f"apply_{need_id}", clear_on_submit=True):
        team = st.text_input(t("team", lang), key="a_team", max_chars=200)
        proposal = st.text_area(t("proposal", lang) + " *", key="a_proposal", max_chars=5000)
        options = [None] + [r["id"] for r in own]
        titles = {r["id"]: f"#{r['id']} {r['title']}" for r in own}
        result = st.selectbox(t("cites", lang), options, format_func=lambda i: titles.get(i, "—"), key="a_result")
        if st.form_submit_button(t("apply", lang), type="primary"):
            try:
                review.apply_challenge(service, need_id, who.org_name, team, proposal, result, who.actor)
            except (TechmatchError, ValueError) as exc:
                st.error(forms.own_reason(str(exc), lang))
            else:
                st.success(t("applied", lang))
