"""Pipeline: confirmed pairings by stage, each moved on in one audited action."""

from __future__ import annotations

import html

import streamlit as st

from matcher import review
from matcher.service import MatchService
from ui.i18n import t
from ui.render import badge

BOARD = ("confirmed", "contacted", "negotiating", "contract_signed", "closed", "dropped")


def render(service: MatchService, lang: str, actor: str) -> None:
    """The page."""
    st.header(t("pipeline", lang))
    rows, _total = review.list_pairings(service, limit=500)
    if not rows:
        st.info(t("no_pairings", lang))
        return
    stages = service.vocab.pairing_stages
    counts = {s: sum(r["stage"] == s for r in rows) for s in BOARD}
    cols = st.columns(len(BOARD))
    for col, stage in zip(cols, BOARD):
        col.metric(stages.name(stage), counts[stage])
    board = st.columns(len(BOARD))
    for col, stage in zip(board, BOARD):
        for r in (r for r in rows if r["stage"] == stage):
            value = f" · {r['contract_value']:.0f} 万元" if r.get("contract_value") else ""
            secret = badge(t("confidential", lang), "secret") if r["need_confidentiality"] == "brokers" else ""
            col.markdown(
                f'<div class="listing" style="margin-bottom:8px">{secret}<b>{html.escape(r["need_title"])}</b><br>'
                f'⇄ {html.escape(r["result_title"])}<div class="muted">#{r["id"]} · '
                f'{html.escape(r["updated_at"][:10])}{value}</div></div>', unsafe_allow_html=True)
    st.divider()
    st.subheader(t("move", lang))
    open_rows = [r for r in rows if review.next_stages(r["stage"])]
    if not open_rows:
        return
    labels = {r["id"]: f"#{r['id']} [{stages.name(r['stage'])}] {r['need_title']} ⇄ {r['result_title']}"
              for r in open_rows}
    pid = st.selectbox(t("open_pair", lang), list(labels), format_func=labels.get, key="pairing")
    current = next(r for r in open_rows if r["id"] == pid)
    with st.form("move", clear_on_submit=True):
        c1, c2, c3 = st.columns([2, 2, 4])
        target = c1.selectbox(t("move_to", lang), review.next_stages(current["stage"]), format_func=stages.name,
                              key="target")
        value = c2.number_input(t("contract_value", lang), min_value=0.0, max_value=1e8, value=0.0, step=10.0,
                                key="value")
        note = c3.text_input(t("note", lang), key="move_note", max_chars=500)
        if st.form_submit_button(t("move", lang), type="primary"):
            try:
                review.move_pairing(service, pid, target, actor, note, value or None)
            except ValueError as exc:
                st.error(str(exc))
            else:
                st.session_state["flash"] = t("moved", lang, stage=stages.name(target))
                st.rerun()
    if st.session_state.get("flash"):
        st.success(st.session_state.pop("flash"))
    history = review.get_pairing(service, pid)["history"]
    st.dataframe([{"at": h["at"][:19], "actor": h["actor"], "action": h["action"],
                   "detail": f"{h['detail'].get('from', '')} → {h['detail'].get('to', '')} {h['detail'].get('note') or ''}"}
                  for h in history], hide_index=True, width="stretch")
