"""Review queue: ranked candidate pairs, side by side, confirmed or rejected in one action."""

from __future__ import annotations

import streamlit as st

from matcher import review
from matcher.access import Principal
from matcher.errors import TechmatchError
from matcher.service import MatchService
from ui.i18n import t
from ui.render import badge, card, highlight


def _filters(service: MatchService, lang: str) -> dict:
    v = service.vocab
    c1, c2, c3, c4, c5 = st.columns([3, 3, 2, 2, 2])
    industry = c1.multiselect(t("cluster", lang), placeholder=t("all", lang), options=v.industries.codes, format_func=v.industries.name, key="q_ind")
    district = c2.multiselect(t("district", lang), placeholder=t("all", lang), options=v.districts.codes, key="q_dist")
    min_conf = c3.slider(t("min_confidence", lang), 0, 90, 0, 5, format="%d%%", key="q_conf",
                         help=t("confidence_help", lang))
    trl = c4.slider(t("trl", lang), 1, 9, (1, 9), key="q_trl")
    status = c5.selectbox(t("status", lang), ["pending", "confirmed", "rejected"], format_func=lambda s: t(s, lang),
                          key="q_status")
    return {"industry": industry, "district": district, "min_confidence": min_conf / 100 if min_conf else None,
            "trl_min": trl[0] if trl[0] > 1 else None, "trl_max": trl[1] if trl[1] < 9 else None, "status": status}


def _pair(service: MatchService, cand: dict, lang: str) -> None:
    need, result, ex = cand["need"], cand["result"], cand["explanation"] or {}
    terms, best = ex.get("shared_terms", []), ex.get("best_sentence", "")
    v = service.vocab
    left, right = st.columns(2)
    need_badges = [badge(v.industries.name(need["industry"])), badge(need.get("district") or "—"),
                   badge(f"TRL {need['wanted_trl_min']}–{need['wanted_trl_max']}")]
    if need["confidentiality"] == "brokers":
        need_badges.insert(0, badge(t("confidential", lang), "secret"))
    left.markdown(f"**{t('need', lang)}**")
    left.markdown(card(need["title"], need_badges, f"{need.get('org') or ''} · #{need['id']}",
                       highlight(need.get("description") or "", terms)), unsafe_allow_html=True)
    result_badges = [badge(v.industries.name(result["industry"])), badge(result.get("district") or "—"),
                     badge(f"TRL {result['trl']} · {result.get('maturity_label') or ''}"),
                     badge(v.ip_types.name(result.get("ip_type") or "know_how"))]
    right.markdown(f"**{t('result', lang)}**")
    right.markdown(card(result["title"], result_badges, f"{result.get('org') or ''} · #{result['id']}",
                        highlight(result.get("abstract") or "", terms, best)), unsafe_allow_html=True)
    comps = cand.get("components") or {}
    m0, m1, m2, m3, m4 = st.columns(5)
    m0.metric(t("confidence", lang), _pct(cand.get("confidence")), help=t("confidence_help", lang))
    m1.metric(t("score", lang), f"{cand['score']:.3f}")
    m2.metric(t("dense", lang), f"{comps.get('dense', 0):.3f}")
    m3.metric(t("lexical", lang), f"{comps.get('lexical', 0):.1f}")
    m4.metric(t("boost", lang), f"+{comps.get('boost', 0) * 100:.0f}%")
    fits = ex.get("fits") or {}
    if fits:
        chips = [badge(("✓ " if fits["industry_match"] else "✗ ") + t("cluster", lang),
                       "ok" if fits["industry_match"] else "warn"),
                 badge(f"TRL {fits['result_trl']} / {fits['wanted_trl'][0]}–{fits['wanted_trl'][1]}",
                       "ok" if fits["maturity_gap"] == 0 else "warn"),
                 badge("、".join(fits["modes_match"] or fits["modes_compatible"]) or "—",
                       "ok" if fits.get("modes_fit") else "warn")]
        if fits.get("district_match"):
            chips.append(badge("✓ " + t("district", lang), "ok"))
        st.markdown(f"**{t('fits', lang)}** " + "".join(chips), unsafe_allow_html=True)
    if terms:
        st.markdown(f"**{t('shared_terms', lang)}** " + "".join(badge(w) for w in terms), unsafe_allow_html=True)
    if ex.get("summary"):
        st.caption(ex["summary"])


def _pct(value: float | None) -> str:
    """A confidence as a percentage, or a dash where the method has none."""
    return "—" if value is None else f"{value:.0%}"


def _decide(service: MatchService, cid: int, decision: str, reason: str | None, note: str, actor: str,
            lang: str) -> None:
    """Record the decision and reload the queue (the next pair opens), or show why it was refused."""
    try:
        review.decide(service, cid, decision, reason, note, actor)
    except (TechmatchError, ValueError) as exc:
        st.error(str(exc))
    else:
        st.session_state["flash"] = t("decided_confirm" if decision == "confirm" else "decided_reject", lang)
        st.session_state.pop("pair", None)
        st.rerun()


def render(service: MatchService, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    st.header(t("queue", lang))
    if st.session_state.get("flash"):
        st.success(st.session_state.pop("flash"))
    f = _filters(service, lang)
    rows, total = review.list_candidates(service, f["status"], f["industry"], f["district"], None,
                                         f["trl_min"], f["trl_max"], limit=200, min_confidence=f["min_confidence"])
    st.caption(f"{total} · {t(f['status'], lang)}")
    if not rows:
        st.info(t("no_candidates", lang))
        return
    table = [{"#": r["id"], t("score", lang): round(r["score"], 3),
              t("confidence", lang): _pct(r.get("confidence")), t("need", lang): r["need"]["title"],
              t("result", lang): r["result"]["title"], t("cluster", lang): service.vocab.industries.name(
                  r["need"]["industry"]), t("district", lang): r["need"]["district"] or "",
              "TRL": r["result"]["trl"], t("confidential", lang): "🔒" if r["need"]["confidentiality"] == "brokers"
              else ""} for r in rows]
    event = st.dataframe(table, hide_index=True, width="stretch", height=240, on_select="rerun",
                         selection_mode="single-row", key="q_table")
    labels = {r["id"]: f"#{r['id']}  {r['score']:.3f}  {r['need']['title']} ⇄ {r['result']['title']}" for r in rows}
    picked_rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    picked = rows[picked_rows[0]]["id"] if picked_rows and picked_rows[0] < len(rows) else None
    if picked is not None and picked != st.session_state.get("q_table_last"):
        st.session_state["pair"] = picked  # a click on a table row opens that pair
    st.session_state["q_table_last"] = picked
    if st.session_state.get("pair") not in labels:
        st.session_state.pop("pair", None)
    chosen = st.selectbox(t("open_pair", lang), list(labels), format_func=labels.get, key="pair",
                          help=t("open_pair_help", lang))
    cand = review.get_candidate(service, chosen)
    _pair(service, cand, lang)
    if cand["status"] == "pending":
        if st.button("✓ " + t("confirm", lang), type="primary", key="confirm_now"):
            _decide(service, chosen, "confirm", None, "", actor, lang)
        with st.form("decide", clear_on_submit=True, border=True):
            c1, c2, c3 = st.columns([2, 2, 4])
            decision = c1.radio(t("decide", lang), ["confirm", "reject"], format_func=lambda d: t(d, lang),
                                horizontal=True, key="decision")
            reason = c2.selectbox(t("reason", lang), service.vocab.reject_reasons.codes,
                                  format_func=service.vocab.reject_reasons.name, key="reason")
            note = c3.text_input(t("note", lang), key="note", max_chars=500)
            if st.form_submit_button(t("decide", lang), type="primary"):
                _decide(service, chosen, decision, reason if decision == "reject" else None, note, actor, lang)
    with st.expander(t("bulk_reject", lang)):
        pending = [r["id"] for r in rows if r["status"] == "pending"]
        picked = st.multiselect(t("bulk_pick", lang), pending, format_func=labels.get, key="bulk_ids")
        reason = st.selectbox(t("reason", lang), service.vocab.reject_reasons.codes,
                              format_func=service.vocab.reject_reasons.name, key="bulk_reason")
        if st.button(t("bulk_reject", lang), key="bulk_go", disabled=not picked):
            n = review.bulk_reject(service, picked, reason, actor=actor)
            st.session_state["flash"] = t("bulk_done", lang, n=n)
            st.rerun()
