"""Review queue: ranked candidate pairs, side by side, confirmed or rejected in one action.

The open pair is the page's model (`q_open`, an id): the table's selection, the picker and the cards are all drawn
from it in one run, and every control that edits a pair (reason, note) is keyed by that pair's id.
"""

from __future__ import annotations

import datetime as dt
import functools

import streamlit as st

from matcher.access import Principal
from matcher.app import App
from matcher.errors import TechmatchError
from matcher.matching import explain
from ui import state
from ui.forms import error_text
from ui.i18n import t
from ui.render import actor_label, badge, card, colon, contact_html, highlight, local_time, money

MODEL = "q_open"  # the open candidate's id (the model)
PICKER = "pair"  # its picker
TABLE = "q_table"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filters(service: App, lang: str) -> dict:
    v = service.vocab
    c0, c1, c2, c5 = st.columns([3, 3, 3, 2])
    text = c0.text_input(t("q_text", lang), key="q_text", max_chars=100, placeholder=t("q_text_hint", lang))
    industry = c1.multiselect(t("cluster", lang), placeholder=t("all", lang), options=v.industries.codes,
                              format_func=v.industries.namer(lang), key="q_ind", select_all=False)
    district = c2.multiselect(t("district", lang), placeholder=t("all", lang), options=v.districts.codes,
                              format_func=v.districts.namer(lang), key="q_dist", select_all=False)
    status = c5.selectbox(t("status", lang), ["pending", "confirmed", "rejected"], format_func=lambda s: t(s, lang),
                          key="q_status", placeholder=t("choose", lang))
    c3, c4, c6 = st.columns([3, 3, 5])
    min_conf = c3.slider(t("min_confidence", lang), 0, 90, 0, 5, format="%d%%", key="q_conf",
                         help=t("confidence_help", lang))
    trl = c4.slider(t("trl", lang), 1, 9, (1, 9), key="q_trl")
    rounds = service.assignments.round_ids()
    round_id = None
    if rounds:  # an assignment round's pairs instead of every ranked candidate
        round_id = c6.selectbox(t("q_source", lang), [None, *rounds], key="q_round", help=t("q_source_help", lang),
                                format_func=lambda r: t("all_candidates", lang) if r is None
                                else t("round_n", lang, id=r), placeholder=t("choose", lang))
    need_id = st.session_state.get("q_need")
    if need_id is not None:  # "only this need", set from a pair's card
        c7, c8 = st.columns([6, 1])
        c7.caption(t("q_only_need", lang, id=need_id))
        c8.button(t("q_clear_need", lang), key="q_clear_need", on_click=state.choose, args=("q_need", None))
    return {"round_id": round_id, "industry": industry, "district": district, "text": text.strip() or None,
            "min_confidence": min_conf / 100 if min_conf else None, "need_id": need_id,
            "trl_min": trl[0] if trl[0] > 1 else None, "trl_max": trl[1] if trl[1] < 9 else None, "status": status}


def _facts(row: dict, side: str, lang: str) -> str:
    """The line a broker acts on (escaped HTML): organisation, money, deadline or patent, team and the contact as
    tel:/mailto: links, the listing's number."""
    import html

    bits = [html.escape(row.get("org") or "")]
    if side == "needs":
        bits += [html.escape(f"{t('budget_short', lang)} {money(row.get('budget'), row.get('budget_negotiable'), lang)}"),
                 html.escape(f"{t('deadline', lang)} {row.get('deadline') or '—'}")]
    else:
        bits += [html.escape(f"{t('price_short', lang)} {money(row.get('price'), row.get('price_negotiable'), lang)}")]
        if row.get("patent_no"):
            bits.append(html.escape(f"{t('patent_no', lang)} {row['patent_no']}"))
        if row.get("team"):
            bits.append(html.escape(row["team"]))
    if row.get("contact"):
        bits.append(f"{html.escape(t('contact_short', lang))} {contact_html(row['contact'])}")
    return " · ".join(b for b in bits if b) + f" · #{row['id']}"


def _pair(service: App, cand: dict, lang: str) -> None:
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
    left.markdown(card(need["title"], need_badges, "", highlight(need.get("description") or "", terms),
                       highlight(need["title"], terms), meta_html=_facts(need, "needs", lang)),
                  unsafe_allow_html=True)
    level = v.maturity_level(result.get("maturity_label") or "")
    result_badges = [badge(v.industries.name(result["industry"], lang)),
                     badge(v.districts.name(result["district"], lang) if result.get("district") else "—"),
                     badge(f"TRL {result['trl']}" + (f" · {level.name(lang)}" if level else "")),
                     badge(v.ip_types.name(result.get("ip_type") or "know_how", lang))]
    right.markdown(f"**{t('result', lang)}**")
    right.markdown(card(result["title"], result_badges, "", highlight(result.get("abstract") or "", terms, best),
                        highlight(result["title"], terms), meta_html=_facts(result, "results", lang)),
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


def _decide(service: App, pending: list[int], cid: int, decision: str, actor: str, lang: str) -> None:
    """(Button callback) record the decision with this pair's reason and note and open the next pending pair; or
    keep the pair open and say, beside the controls, why it was refused. A rejection needs its reason chosen for
    this pair: nothing is carried over from the last one."""
    session = st.session_state
    reason = session.get(state.entity_key("reason", cid)) if decision == "reject" else None
    if decision == "reject" and not reason:
        state.note(state.entity_key("q_error", cid), t("err_reason_required", lang))
        return
    try:
        service.queue.decide(cid, decision, reason, session.get(state.entity_key("note", cid)) or "", actor)
    except TechmatchError as exc:
        state.note(state.entity_key("q_error", cid), error_text(exc, lang, service.vocab))
        return
    state.note("q_flash", (t("decided_confirm" if decision == "confirm" else "decided_reject", lang) + " "
                           + t("undo_hint", lang, id=cid), cid))
    state.choose(MODEL, _next_after(pending, cid))


def _undo(service: App, cid: int, actor: str, lang: str) -> None:
    """(Button callback) take back a decision and open that pair again where the queue shows it."""
    try:
        service.queue.undo(cid, actor)
    except TechmatchError as exc:
        state.note("q_error", error_text(exc, lang, service.vocab))
        return
    state.note("q_flash", (t("undone", lang, id=cid), None))
    if st.session_state.get("q_status", "pending") == "pending":
        state.choose(MODEL, cid)


def _step(ids: list[int], cid: int) -> None:
    """(Button callback) open the pair after `cid` in the list."""
    state.choose(MODEL, ids[(ids.index(cid) + 1) % len(ids)] if cid in ids else (ids[0] if ids else None))


def _bulk(service: App, pending: list[int], chosen: int, decision: str, actor: str, lang: str,
          picked_key: str, reason_key: str) -> None:
    """(Button callback) confirm or reject the pairs picked for it (a rejection with the reason chosen for it);
    the open pair moves on if it was one of them."""
    session = st.session_state
    picked = list(session.get(picked_key) or [])
    reason = session.get(reason_key) if decision == "reject" else None
    if decision == "reject" and not reason:
        state.note("q_bulk_error", t("err_reason_required", lang))
        return
    try:
        n = service.queue.bulk_decide(picked, decision, reason, actor=actor)
    except TechmatchError as exc:
        state.note("q_bulk_error", error_text(exc, lang, service.vocab))
        return
    state.note("q_flash", (t("bulk_done_" + decision, lang, n=n), None))
    session[picked_key] = []
    if chosen in picked:
        state.choose(MODEL, next((i for i in pending if i not in picked), None))


def _decided(service: App, cand: dict, lang: str, actor: str) -> None:
    """What was decided on a pair that is no longer pending: decision, reason, note, who, when; undo."""
    shown = cand.get("review") or {}
    sep = colon(lang)
    bits = [t(cand["status"], lang)]
    if shown.get("reason_code"):
        bits.append(f"{t('reason', lang)}{sep}{service.vocab.reject_reasons.name(shown['reason_code'], lang)}")
    if shown.get("note"):
        bits.append(f"{t('note', lang)}{sep}{shown['note']}")
    if shown.get("actor"):
        bits.append(f"{t('who', lang)}{sep}{actor_label(shown['actor'], lang)}")
    if shown.get("created_at"):
        bits.append(f"{t('when', lang)}{sep}{local_time(shown['created_at'])}")
    st.info(" · ".join(bits))
    st.button("↶ " + t("undo", lang), key=state.entity_key("undo_decided", cand["id"]), on_click=_undo,
              args=(service, cand["id"], actor, lang))


def _empty(f: dict, lang: str) -> None:
    filtered = any(f[k] for k in ("industry", "district", "min_confidence", "trl_min", "trl_max", "round_id", "text",
                                  "need_id"))
    if filtered:
        st.info(t("no_candidates_filtered", lang))
    elif f["status"] != "pending":
        st.info(t("no_decided", lang, status=t(f["status"], lang)))
    else:
        st.info(t("no_candidates", lang))


def _decision_bar(service: App, cid: int, pending: list[int], ids: list[int], actor: str, lang: str) -> None:
    """Reason (chosen for this pair, every time), note, ✓ / ✗ / →, and why the last try was refused."""
    c0, c1, b1, b2, b3 = st.columns([2.2, 3.0, 1.5, 1.2, 1.4], vertical_alignment="bottom")
    reasons = service.vocab.reject_reasons
    c0.selectbox(t("reason", lang), reasons.codes, index=None, placeholder=t("choose_reason", lang),
                 format_func=reasons.namer(lang), key=state.entity_key("reason", cid))
    c1.text_input(t("note", lang), key=state.entity_key("note", cid), max_chars=500)
    b1.button("✓ " + t("confirm", lang), type="primary", key="confirm_now", shortcut="Y", width="stretch",
              help=t("key_confirm", lang), on_click=_decide, args=(service, pending, cid, "confirm", actor, lang))
    b2.button("✗ " + t("reject", lang), key="reject_now", shortcut="X", help=t("key_reject", lang),
              width="stretch", on_click=_decide, args=(service, pending, cid, "reject", actor, lang))
    b3.button("→ " + t("next_pair", lang), key="next_pair", shortcut="N", help=t("key_next", lang),
              width="stretch", on_click=_step, args=(ids, cid))
    refused = state.take(state.entity_key("q_error", cid))
    if refused:
        st.error(refused)


def _bulk_tools(service: App, pending: list[int], labels: dict, chosen: int, signature: str, actor: str,
                lang: str) -> None:
    with st.expander(t("bulk", lang)):
        picked_key, reason_key = f"bulk_ids:{signature}", "bulk_reason"
        st.multiselect(t("bulk_pick", lang), pending, format_func=labels.get, key=picked_key,
                       placeholder=t("choose", lang), select_all=False)
        c1, c2, c3 = st.columns([3, 2, 2], vertical_alignment="bottom")
        c1.selectbox(t("reason", lang), service.vocab.reject_reasons.codes, index=None,
                     placeholder=t("choose_reason", lang), format_func=service.vocab.reject_reasons.namer(lang),
                     key=reason_key)
        nothing = not st.session_state.get(picked_key)
        c2.button(t("bulk_confirm", lang), key="bulk_confirm", disabled=nothing, on_click=_bulk,
                  args=(service, pending, chosen, "confirm", actor, lang, picked_key, reason_key))
        c3.button(t("bulk_reject", lang), key="bulk_go", disabled=nothing, on_click=_bulk,
                  args=(service, pending, chosen, "reject", actor, lang, picked_key, reason_key))
        refused = state.take("q_bulk_error")
        if refused:
            st.error(refused)


def render(service: App, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    head, export = st.columns([5, 2], vertical_alignment="bottom")
    head.header(t("queue", lang))
    export.download_button(t("export_decisions", lang), lambda: service.exports.decisions_file(None, "xlsx", lang),
                           file_name=f"decisions-{dt.date.today().isoformat()}.xlsx", mime=XLSX, key="q_export",
                           help=t("export_decisions_help", lang))
    flash = state.take("q_flash")
    refused = state.take("q_error")
    if refused:
        st.error(refused)
    if flash:
        message, last = flash
        c1, c2 = st.columns([6, 1])
        c1.success(message)
        if last is not None:
            c2.button("↶ " + t("undo", lang), key="undo_last", shortcut="U", on_click=_undo,
                      args=(service, last, actor, lang))
    f = _filters(service, lang)
    rows, total = service.queue.list_candidates(f["status"], f["industry"], f["district"], None,
                                         f["trl_min"], f["trl_max"], f["need_id"], limit=200,
                                         min_confidence=f["min_confidence"], round_id=f["round_id"], text=f["text"])
    if not rows:
        _empty(f, lang)
        return
    ids = [r["id"] for r in rows]
    chosen = state.selected(MODEL, ids)
    v = service.vocab
    table = [{"#": r["id"], t("confidence", lang): _pct(r.get("confidence")), t("need", lang): r["need"]["title"],
              t("result", lang): r["result"]["title"], t("cluster", lang): v.industries.name(r["need"]["industry"], lang),
              t("district", lang): v.districts.name(r["need"]["district"], lang) if r["need"]["district"] else "",
              "TRL": r["result"]["trl"], t("confidential", lang): t("confidential", lang)
              if r["need"]["confidentiality"] == "brokers" else ""} for r in rows]
    narrow = {t("need", lang): st.column_config.TextColumn(width="medium"),
              t("result", lang): st.column_config.TextColumn(width="medium"),
              "#": st.column_config.NumberColumn(width="small"), "TRL": st.column_config.NumberColumn(width="small")}
    # the table is one widget per list, language and open pair: it always opens on the open pair's row
    key = state.table_key(TABLE, MODEL, ids, lang)
    selection = state.table_selection(key, MODEL, ids)
    st.dataframe(table, hide_index=True, width="stretch", height=190, column_config=narrow, key=key,
                 selection_mode="single-row", selection_default=selection,
                 on_select=functools.partial(state.table_picked, key, MODEL, ids, TABLE))
    labels = {r["id"]: f"#{r['id']}  {_pct(r.get('confidence'))}  {r['need']['title']} ⇄ {r['result']['title']}"
              for r in rows}
    state.picker(st, t("open_pair", lang) + t("of_total", lang, n=total, status=t(f["status"], lang)), MODEL, ids,
                 labels, key=PICKER, help=t("open_pair_help", lang, placeholder=t("choose", lang)))
    cand = service.queue.get_candidate(chosen)
    pending = [r["id"] for r in rows if r["status"] == "pending"]
    if cand["status"] == "pending":
        _decision_bar(service, chosen, pending, ids, actor, lang)
    else:
        _decided(service, cand, lang, actor)
    _pair(service, cand, lang)
    c1, c2 = st.columns([1, 1])
    if f["need_id"] != cand["need_id"]:
        c1.button(t("q_this_need", lang), key=state.entity_key("q_need_of", chosen), on_click=state.choose,
                  args=("q_need", cand["need_id"]))
    signature = "|".join(map(str, (f["status"], f["text"], f["need_id"], f["round_id"], len(pending))))
    _bulk_tools(service, pending, labels, chosen, signature, actor, lang)
