"""Review queue: ranked candidate pairs, side by side, confirmed or rejected in one action."""

from __future__ import annotations

import streamlit as st

from matcher import review
from matcher.access import Principal
from matcher.errors import TechmatchError
from matcher.matching import explain
from matcher.review import assignments
from matcher.service import MatchService
from ui.i18n import t
from ui.render import badge, card, highlight, local_time


def _filters(service: MatchService, lang: str) -> dict:
    v = service.vocab
    c1, c2, c3, c4, c5 = st.columns([3, 3, 2, 2, 2])
    industry = c1.multiselect(t("cluster", lang), placeholder=t("all", lang), options=v.industries.codes, format_func=v.industries.namer(lang), key="q_ind")
    district = c2.multiselect(t("district", lang), placeholder=t("all", lang), options=v.districts.codes, format_func=v.districts.namer(lang), key="q_dist")
    min_conf = c3.slider(t("min_confidence", lang), 0, 90, 0, 5, format="%d%%", key="q_conf",
                         help=t("confidence_help", lang))
    trl = c4.slider(t("trl", lang), 1, 9, (1, 9), key="q_trl")
    status = c5.selectbox(t("status", lang), ["pending", "confirmed", "rejected"], format_func=lambda s: t(s, lang),
                          key="q_status")
    rounds = assignments.round_ids(service)
    round_id = None
    if rounds:  # an assignment round's pairs instead of every ranked candidate
        round_id = st.selectbox(t("q_source", lang), [None, *rounds], key="q_round", help=t("q_source_help", lang),
                                format_func=lambda r: t("all_candidates", lang) if r is None
                                else t("round_n", lang, id=r))
    return {"round_id": round_id, "industry": industry, "district": district, "min_confidence": min_conf / 100 if min_conf else None,
            "trl_min": trl[0] if trl[0] > 1 else None, "trl_max": trl[1] if trl[1] < 9 else None, "status": status}


def _money(value: float | None, negotiable: bool | None, lang: str) -> str:
    """An amount in 万元, or 面议 where none is given."""
    return f"{value:g} {t('wan_yuan', lang)}" if value is not None and not negotiable else t("negotiable", lang)


def _facts(row: dict, side: str, lang: str) -> str:
    """The line a broker acts on: organisation, money, deadline or patent, team and contact, the listing's number."""
    bits = [row.get("org") or ""]
    if side == "needs":
        bits += [f"{t('budget_short', lang)} {_money(row.get('budget'), row.get('budget_negotiable'), lang)}",
                 f"{t('deadline', lang)} {row.get('deadline') or '—'}"]
    else:
        bits += [f"{t('price_short', lang)} {_money(row.get('price'), row.get('price_negotiable'), lang)}"]
        if row.get("patent_no"):
            bits.append(f"{t('patent_no', lang)} {row['patent_no']}")
        if row.get("team"):
            bits.append(row["team"])
    if row.get("contact"):
        bits.append(f"{t('contact_short', lang)} {row['contact']}")
    return " · ".join(b for b in bits if b) + f" · #{row['id']}"


def _pair(service: MatchService, cand: dict, lang: str) -> None:
    need, result, ex = cand["need"], cand["result"], cand["explanation"] or {}
    terms, best = ex.get("shared_terms", []), ex.get("best_sentence", "")
    v = service.vocab
    left, right = st.columns(2)
    need_badges = [badge(v.industries.name(need["industry"], lang)),
                   badge(v.districts.name(need["district"], lang) if need.get("district") else "—"),
                   badge(f"TRL {need['wanted_trl_min']}–{need['wanted_trl_max']}")]
    if need["confidentiality"] == "brokers":
        need_badges.insert(0, badge(t("confidential", lang), "secret"))
    left.markdown(f"**{t('need', lang)}**")
    left.markdown(card(need["title"], need_badges, _facts(need, "needs", lang),
                       highlight(need.get("description") or "", terms), highlight(need["title"], terms)),
                  unsafe_allow_html=True)
    level = v.maturity_level(result.get("maturity_label") or "")
    result_badges = [badge(v.industries.name(result["industry"], lang)),
                     badge(v.districts.name(result["district"], lang) if result.get("district") else "—"),
                     badge(f"TRL {result['trl']}" + (f" · {level.name(lang)}" if level else "")),
                     badge(v.ip_types.name(result.get("ip_type") or "know_how", lang))]
    right.markdown(f"**{t('result', lang)}**")
    right.markdown(card(result["title"], result_badges, _facts(result, "results", lang),
                        highlight(result.get("abstract") or "", terms, best), highlight(result["title"], terms)),
                   unsafe_allow_html=True)
    comps = cand.get("components") or {}
    m0, m1, m2, m3, m4 = st.columns(5)
    m0.metric(t("confidence", lang), _pct(cand.get("confidence")), help=t("confidence_help", lang))
    m1.metric(t("rank", lang), f"{cand.get('rank') or '—'}", help=t("rank_help", lang))
    m2.metric(t("dense", lang), f"{comps.get('dense', 0):.2f}", help=t("dense_help", lang))
    m3.metric(t("shared_count", lang), len(terms), help=t("shared_count_help", lang))
    m4.metric(t("boost", lang), f"+{comps.get('boost', 0) * 100:.0f}%")
    fits = ex.get("fits") or {}
    if fits:
        chips = [badge(("✓ " if fits["industry_match"] else "✗ ") + t("cluster", lang),
                       "ok" if fits["industry_match"] else "warn"),
                 badge(f"TRL {fits['result_trl']} / {fits['wanted_trl'][0]}–{fits['wanted_trl'][1]}",
                       "ok" if fits["maturity_gap"] == 0 else "warn"),
                 badge(_modes(v, fits, lang) or "—", "ok" if fits.get("modes_fit") else "warn")]
        if fits.get("district_match"):
            chips.append(badge("✓ " + t("district", lang), "ok"))
        st.markdown(f"**{t('fits', lang)}** " + "".join(chips), unsafe_allow_html=True)
    if terms:
        st.markdown(f"**{t('shared_terms', lang)}** " + "".join(badge(w) for w in terms), unsafe_allow_html=True)
    if ex.get("fits"):
        st.caption(explain.summary(terms, ex["fits"], lang, v))
    elif ex.get("summary"):
        st.caption(ex["summary"])


def _modes(v, fits: dict, lang: str) -> str:
    """The cooperation modes both sides share (or that are compatible), in the chosen language."""
    codes = fits.get("mode_codes")
    if codes:
        return ("、" if lang == "zh" else ", ").join(v.transfer_modes.name(m, lang)
                                                    for m in codes["match"] or codes["compatible"])
    return "、".join(fits["modes_match"] or fits["modes_compatible"])


def _pct(value: float | None) -> str:
    """A confidence as a percentage, or a dash where the method has none."""
    return "—" if value is None else f"{value:.0%}"


def _next_after(pending: list[int], cid: int) -> int | None:
    """The pending pair to open after deciding `cid`: the one below it in the list, else the one above."""
    if cid not in pending:
        return pending[0] if pending else None
    pos = pending.index(cid)
    rest = pending[pos + 1:] + pending[:pos][::-1]
    return rest[0] if rest else None


def _open(cid: int | None) -> None:
    """Make `cid` the open pair. Called from widget callbacks, which run before the picker is built, so the
    picker, the table and the cards all show it on this run."""
    if cid is None:
        st.session_state.pop("pair", None)
    else:
        st.session_state["pair"] = cid


def _decide(service: MatchService, pending: list[int], cid: int, decision: str, actor: str, lang: str) -> None:
    """(Button callback) record the decision with the reason and note on the page, clear the note and open the
    next pending pair; or keep the pair open and say why the decision was refused."""
    state = st.session_state
    reason = state.get("reason") if decision == "reject" else None
    try:
        review.decide(service, cid, decision, reason, state.get("note") or "", actor)
    except (TechmatchError, ValueError) as exc:
        state["q_error"] = str(exc)
        return
    state["flash"] = t("decided_confirm" if decision == "confirm" else "decided_reject", lang) + " " + \
        t("undo_hint", lang, id=cid)
    state["last_decided"] = cid
    state["note"] = ""
    _open(_next_after(pending, cid))


def _undo(service: MatchService, cid: int, actor: str, lang: str) -> None:
    """(Button callback) take back a decision and open that pair again where the queue shows it."""
    state = st.session_state
    try:
        review.undo(service, cid, actor)
    except (TechmatchError, ValueError) as exc:
        state["q_error"] = str(exc)
        return
    state.pop("last_decided", None)
    state["flash"] = t("undone", lang, id=cid)
    if state.get("q_status", "pending") == "pending":
        _open(cid)


def _step(ids: list[int], cid: int) -> None:
    """(Button callback) open the pair after `cid` in the list."""
    _open(ids[(ids.index(cid) + 1) % len(ids)] if cid in ids else (ids[0] if ids else None))


def _bulk(service: MatchService, pending: list[int], chosen: int, actor: str, lang: str) -> None:
    """(Button callback) reject the pairs picked for bulk rejection; the open pair moves on if it was one."""
    state = st.session_state
    picked = list(state.get("bulk_ids") or [])
    try:
        n = review.bulk_reject(service, picked, state.get("bulk_reason"), actor=actor)
    except (TechmatchError, ValueError) as exc:
        state["q_error"] = str(exc)
        return
    state["flash"] = t("bulk_done", lang, n=n)
    state.pop("last_decided", None)
    state["bulk_ids"] = []
    if chosen in picked:
        _open(next((i for i in pending if i not in picked), None))


def _decided(service: MatchService, cand: dict, lang: str, actor: str) -> None:
    """What was decided on a pair that is no longer pending: decision, reason, note, who, when; undo."""
    shown = cand.get("review") or {}
    bits = [t(cand["status"], lang)]
    if shown.get("reason_code"):
        bits.append(f"{t('reason', lang)}：{service.vocab.reject_reasons.name(shown['reason_code'], lang)}")
    if shown.get("note"):
        bits.append(f"{t('note', lang)}：{shown['note']}")
    if shown.get("actor"):
        bits.append(f"{t('who', lang)}：{shown['actor']}")
    if shown.get("created_at"):
        bits.append(f"{t('when', lang)}：{local_time(shown['created_at'])}")
    st.info(" · ".join(bits))
    st.button("↶ " + t("undo", lang), key="undo_decided", on_click=_undo, args=(service, cand["id"], actor, lang))


def render(service: MatchService, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    st.header(t("queue", lang))
    flash, last = st.session_state.pop("flash", None), st.session_state.get("last_decided")
    if st.session_state.get("q_error"):
        st.error(st.session_state.pop("q_error"))
    if flash:
        c1, c2 = st.columns([6, 1])
        c1.success(flash)
        if last is not None:
            c2.button("↶ " + t("undo", lang), key="undo_last", shortcut="U", on_click=_undo,
                      args=(service, last, actor, lang))
    f = _filters(service, lang)
    rows, total = review.list_candidates(service, f["status"], f["industry"], f["district"], None,
                                         f["trl_min"], f["trl_max"], limit=200, min_confidence=f["min_confidence"],
                                         round_id=f["round_id"])
    if not rows:
        filtered = (f["industry"] or f["district"] or f["min_confidence"] or f["trl_min"] or f["trl_max"]
                    or f["round_id"])
        if filtered:
            st.info(t("no_candidates_filtered", lang))
        elif f["status"] != "pending":
            st.info(t("no_decided", lang, status=t(f["status"], lang)))
        else:
            st.info(t("no_candidates", lang))
        return
    table = [{"#": r["id"], t("confidence", lang): _pct(r.get("confidence")), t("need", lang): r["need"]["title"],
              t("result", lang): r["result"]["title"], t("cluster", lang): service.vocab.industries.name(r["need"]["industry"], lang),
              t("district", lang): service.vocab.districts.name(r["need"]["district"], lang) if r["need"]["district"]
              else "",
              "TRL": r["result"]["trl"], t("confidential", lang): t("confidential", lang) if r["need"]["confidentiality"] == "brokers"
              else ""} for r in rows]
    narrow = {t("need", lang): st.column_config.TextColumn(width="medium"),
              t("result", lang): st.column_config.TextColumn(width="medium"),
              "#": st.column_config.NumberColumn(width="small"), "TRL": st.column_config.NumberColumn(width="small")}
    event = st.dataframe(table, hide_index=True, width="stretch", height=190, on_select="rerun", column_config=narrow,
                         selection_mode="single-row", key="q_table")
    labels = {r["id"]: f"#{r['id']}  {_pct(r.get('confidence'))}  {r['need']['title']} ⇄ {r['result']['title']}"
              for r in rows}
    picked_rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    picked = rows[picked_rows[0]]["id"] if picked_rows and picked_rows[0] < len(rows) else None
    if picked is not None and picked != st.session_state.get("q_table_last"):
        st.session_state["pair"] = picked  # a click on a table row opens that pair
    st.session_state["q_table_last"] = picked
    if st.session_state.get("pair") not in labels:
        st.session_state.pop("pair", None)
    chosen = st.selectbox(t("open_pair", lang) + t("of_total", lang, n=total, status=t(f["status"], lang)),
                          list(labels), format_func=labels.get, key="pair", help=t("open_pair_help", lang))
    cand = review.get_candidate(service, chosen)
    pending = [r["id"] for r in rows if r["status"] == "pending"]
    if cand["status"] == "pending":
        c0, c1, b1, b2, b3 = st.columns([2.0, 3.0, 1.5, 1.2, 1.4], vertical_alignment="bottom")
        c0.selectbox(t("reason", lang), service.vocab.reject_reasons.codes,
                     format_func=service.vocab.reject_reasons.namer(lang), key="reason")
        c1.text_input(t("note", lang), key="note", max_chars=500)
        b1.button("✓ " + t("confirm", lang), type="primary", key="confirm_now", shortcut="Y", width="stretch",
                  help=t("key_confirm", lang), on_click=_decide, args=(service, pending, chosen, "confirm", actor, lang))
        b2.button("✗ " + t("reject", lang), key="reject_now", shortcut="X", help=t("key_reject", lang),
                  width="stretch", on_click=_decide, args=(service, pending, chosen, "reject", actor, lang))
        b3.button("→ " + t("next_pair", lang), key="next_pair", shortcut="N", help=t("key_next", lang),
                  width="stretch", on_click=_step, args=(list(labels), chosen))
    else:
        _decided(service, cand, lang, actor)
    _pair(service, cand, lang)
    with st.expander(t("bulk_reject", lang)):
        st.multiselect(t("bulk_pick", lang), pending, format_func=labels.get, key="bulk_ids",
                       placeholder=t("choose", lang))
        st.selectbox(t("reason", lang), service.vocab.reject_reasons.codes,
                     format_func=service.vocab.reject_reasons.namer(lang), key="bulk_reason")
        st.button(t("bulk_reject", lang), key="bulk_go", disabled=not st.session_state.get("bulk_ids"),
                  on_click=_bulk, args=(service, pending, chosen, actor, lang))
