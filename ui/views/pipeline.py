"""Pipeline: confirmed pairings by stage, each moved on in one audited action."""

from __future__ import annotations

import datetime as dt
import html

import streamlit as st

from matcher import review
from matcher.access import Principal
from matcher.errors import TechmatchError
from matcher.service import MatchService
from ui import forms
from ui.i18n import t
from ui.render import badge, local_time

BOARD = ("confirmed", "contacted", "negotiating", "contract_signed", "closed", "dropped")


def _move(service: MatchService, pid: int, actor: str, lang: str) -> None:
    """(Form callback) move the pairing to the chosen stage; it stays open in the picker, under its new stage."""
    state = st.session_state
    target, value, note = state.get("target"), state.get("value") or None, state.get("move_note") or ""
    if target == "contract_signed" and not value:
        state["p_error"] = t("need_value", lang)
        return
    try:
        review.move_pairing(service, pid, target, actor, note, value)
    except (TechmatchError, ValueError) as exc:
        state["p_error"] = str(exc)
        return
    state["flash"] = t("moved", lang, stage=service.vocab.pairing_stages.name(target, lang))
    if review.next_stages(target):
        state["pairing"] = pid
    else:
        state.pop("pairing", None)


def _plan(service: MatchService, pid: int, actor: str, lang: str) -> None:
    """(Form callback) save the pairing's next action and its date."""
    state = st.session_state
    when = state.get("plan_at")
    try:
        review.plan_pairing(service, pid, state.get("plan_action") or "", when.isoformat() if when else None, actor)
    except (TechmatchError, ValueError) as exc:
        state["p_error"] = forms.own_reason(str(exc), lang)
        return
    state["flash"] = t("planned", lang)


def render(service: MatchService, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    st.header(t("pipeline", lang))
    if st.session_state.get("flash"):
        st.success(st.session_state.pop("flash"))
    if st.session_state.get("p_error"):
        st.error(st.session_state.pop("p_error"))
    rows, _total = review.list_pairings(service, limit=500)
    if not rows:
        st.info(t("no_pairings", lang))
        return
    stages = service.vocab.pairing_stages
    due = review.due_pairings(service)
    st.subheader(t("due", lang) + f"（{len(due)}）" if lang == "zh" else t("due", lang) + f" ({len(due)})",
                 help=t("due_help", lang))
    if due:
        st.dataframe([{t("due_on", lang): r["next_action_at"], t("next_action", lang): r["next_action"],
                       "#": r["id"], t("stage", lang): stages.name(r["stage"], lang),
                       t("need", lang): r["need_title"], t("result", lang): r["result_title"]} for r in due],
                     hide_index=True, width="stretch")
    else:
        st.caption(t("nothing_due", lang))
    counts = {s: sum(r["stage"] == s for r in rows) for s in BOARD}
    cols = st.columns(len(BOARD))
    for col, stage in zip(cols, BOARD):
        col.metric(stages.name(stage, lang), counts[stage])
    board = st.columns(len(BOARD))
    for col, stage in zip(board, BOARD):
        for r in (r for r in rows if r["stage"] == stage):
            value = f" · {r['contract_value']:.0f} 万元" if r.get("contract_value") else ""
            secret = badge(t("confidential", lang), "secret") if r["need_confidentiality"] == "brokers" else ""
            notes = (r.get("notes") or "").strip().splitlines()
            last_note = f'<div class="muted">✎ {html.escape(notes[-1][:80])}</div>' if notes else ""
            col.markdown(
                f'<div class="listing" style="margin-bottom:8px">{secret}<b>{html.escape(r["need_title"])}</b><br>'
                f'⇄ {html.escape(r["result_title"])}<div class="muted">#{r["id"]} · '
                f'{html.escape(local_time(r["updated_at"])[:10])}{value}</div>{last_note}</div>', unsafe_allow_html=True)
    st.divider()
    st.subheader(t("move", lang))
    open_rows = [r for r in rows if review.next_stages(r["stage"])]
    if not open_rows:
        return
    labels = {r["id"]: f"#{r['id']} [{stages.name(r['stage'], lang)}] {r['need_title']} ⇄ {r['result_title']}"
              for r in open_rows}
    if st.session_state.get("pairing") not in labels:
        st.session_state.pop("pairing", None)
    pid = st.selectbox(t("open_pairing", lang), list(labels), format_func=labels.get, key="pairing")
    current = next(r for r in open_rows if r["id"] == pid)
    with st.form("move", clear_on_submit=True):
        c1, c2, c3 = st.columns([2, 2, 4])
        c1.selectbox(t("move_to", lang), review.next_stages(current["stage"]), format_func=stages.namer(lang), key="target")
        c2.number_input(t("contract_value", lang), min_value=0.0, max_value=1e8, value=0.0, step=10.0, key="value")
        c3.text_input(t("note", lang), key="move_note", max_chars=500)
        st.form_submit_button(t("move", lang), type="primary", on_click=_move, args=(service, pid, actor, lang))
    with st.form("plan", clear_on_submit=False):
        c1, c2 = st.columns([4, 2])
        c1.text_input(t("next_action", lang), key="plan_action", max_chars=500, value=current.get("next_action") or "")
        default = dt.date.fromisoformat(current["next_action_at"]) if current.get("next_action_at") else None
        c2.date_input(t("due_on", lang), key="plan_at", value=default)
        st.form_submit_button(t("save_plan", lang), on_click=_plan, args=(service, pid, actor, lang))
    st.caption(t("history", lang))
    history = review.get_pairing(service, pid)["history"]

    def step(d: dict) -> str:
        if "to" not in d:
            return stages.name(d.get("stage", ""), lang) if d.get("stage") else ""
        value = f" · {d['contract_value']:g} 万元" if d.get("contract_value") else ""
        return f"{stages.name(d.get('from', ''), lang)} → {stages.name(d['to'], lang)}{value} {d.get('note') or ''}".strip()

    st.dataframe([{t("when", lang): local_time(h["at"]), t("who", lang): h["actor"],
                   t("stage", lang): step(h["detail"] or {})} for h in history], hide_index=True, width="stretch")
