"""Pipeline: confirmed pairings by stage, each moved on in one audited action, with its next action and its whole
history.

The open pairing is the page's model (`p_open`, an id). The move form is keyed by the pairing and its stage, the
plan form by the pairing: a form never carries another pairing's text, or a stage its pairing has left.
"""

from __future__ import annotations

import datetime as dt
import html

import streamlit as st

from matcher import review
from matcher.access import Principal
from matcher.app import App
from matcher.errors import TechmatchError
from ui import state
from ui.forms import error_text
from ui.i18n import t
from ui.render import actor_label, badge, colon, contact_html, local_time, money

BOARD = ("confirmed", "contacted", "negotiating", "contract_signed", "closed", "dropped")
MODEL = "p_open"  # the open pairing's id (the model)
PICKER = "pairing"  # its picker
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _move(service: App, pid: int, stage: str, actor: str, lang: str) -> None:
    """(Form callback) move the pairing to the stage chosen in its form; it stays open, under its new stage. A
    refused move keeps what was typed and says why beside the form."""
    session, key = st.session_state, (pid, stage)
    target = session.get(state.entity_key("target", *key))
    value = session.get(state.entity_key("value", *key)) or None
    note = session.get(state.entity_key("move_note", *key)) or ""
    error = state.entity_key("p_error", pid)
    if not target:
        state.note(error, t("err_choose_stage", lang))
        return
    if target == "contract_signed" and not value:
        state.note(error, t("need_value", lang))
        return
    try:
        service.pipeline.move_pairing(pid, target, actor, note, value)
    except TechmatchError as exc:
        state.note(error, error_text(exc, lang, service.vocab))
        return
    state.note("p_flash", t("moved", lang, stage=service.vocab.pairing_stages.name(target, lang)))
    state.choose(MODEL, pid)


def _plan(service: App, pid: int, actor: str, lang: str) -> None:
    """(Form callback) save this pairing's next action and its date."""
    session = st.session_state
    when = session.get(state.entity_key("plan_at", pid))
    try:
        service.pipeline.plan_pairing(pid, session.get(state.entity_key("plan_action", pid)) or "",
                                      when.isoformat() if when else None, actor)
    except TechmatchError as exc:
        state.note(state.entity_key("p_plan_error", pid), error_text(exc, lang, service.vocab))
        return
    state.note("p_flash", t("planned", lang))


def _history_line(service: App, entry: dict, lang: str) -> str:
    """One audited step of a pairing, as a broker reads it (a move, a plan, its creation); never blank."""
    d, stages, sep = entry.get("detail") or {}, service.vocab.pairing_stages, colon(lang)
    action = entry.get("action")
    if action == "move":
        value = f" · {money(d['contract_value'], False, lang)}" if d.get("contract_value") else ""
        note = f" · {t('note', lang)}{sep}{d['note']}" if d.get("note") else ""
        return f"{stages.name(d.get('from', ''), lang)} → {stages.name(d.get('to', ''), lang)}{value}{note}"
    if action == "plan":
        if not d.get("next_action"):
            return t("plan_cleared", lang)
        return f"{t('next_action', lang)}{sep}{d['next_action']}（{d.get('next_action_at') or '—'}）" if lang == "zh" \
            else f"{t('next_action', lang)}{sep}{d['next_action']} ({d.get('next_action_at') or '—'})"
    if action == "create":
        return t("pairing_created", lang)
    return t("history_" + str(action), lang) if action else ""


def _board(service: App, rows: list[dict], lang: str) -> None:
    stages = service.vocab.pairing_stages
    counts = {s: sum(r["stage"] == s for r in rows) for s in BOARD}
    for col, stage in zip(st.columns(len(BOARD)), BOARD):
        col.metric(stages.name(stage, lang), counts[stage])
    for col, stage in zip(st.columns(len(BOARD)), BOARD):
        for r in (r for r in rows if r["stage"] == stage):
            value = f" · {html.escape(money(r['contract_value'], False, lang))}" if r.get("contract_value") else ""
            secret = badge(t("confidential", lang), "secret") if r["need_confidentiality"] == "brokers" else ""
            notes = (r.get("notes") or "").strip().splitlines()
            last_note = f'<div class="muted">✎ {html.escape(notes[-1][:80])}</div>' if notes else ""
            col.markdown(
                f'<div class="listing" style="margin-bottom:8px">{secret}<b>{html.escape(r["need_title"])}</b><br>'
                f'⇄ {html.escape(r["result_title"])}<div class="muted">#{r["id"]} · '
                f'{html.escape(local_time(r["updated_at"])[:10])}{value}</div>{last_note}</div>', unsafe_allow_html=True)


def _parties(pairing: dict, lang: str) -> None:
    """Both parties of the open pairing, each with its contact as tel:/mailto: links."""
    sep = colon(lang)
    c1, c2 = st.columns(2)
    for col, side, title, org, contact in (
            (c1, "need", pairing["need_title"], pairing.get("need_org"), pairing.get("need_contact")),
            (c2, "result", pairing["result_title"], pairing.get("result_org"), pairing.get("result_contact"))):
        col.markdown(f'<div class="listing"><b>{html.escape(t(side, lang))}{sep}{html.escape(title)}</b>'
                     f'<div class="muted">{html.escape(org or "—")} · {html.escape(t("contact_short", lang))} '
                     f'{contact_html(contact) or "—"}</div></div>', unsafe_allow_html=True)


def _forms(service: App, pairing: dict, actor: str, lang: str) -> None:
    pid, stage, stages = pairing["id"], pairing["stage"], service.vocab.pairing_stages
    refused = state.take(state.entity_key("p_error", pid))
    with st.form(state.entity_key("move", pid, stage), clear_on_submit=False):
        c1, c2, c3 = st.columns([2, 2, 4])
        c1.selectbox(t("move_to", lang), review.next_stages(stage), format_func=stages.namer(lang), index=None,
                     placeholder=t("choose_stage", lang), key=state.entity_key("target", pid, stage))
        c2.number_input(t("contract_value", lang), min_value=0.0, max_value=1e8, value=None, step=10.0,
                        key=state.entity_key("value", pid, stage), help=t("contract_value_help", lang))
        c3.text_input(t("note", lang), key=state.entity_key("move_note", pid, stage), max_chars=500)
        if refused:
            st.error(refused)  # beside the form, in the chosen language
        st.form_submit_button(t("move", lang), type="primary", on_click=_move, args=(service, pid, stage, actor, lang))
    refused = state.take(state.entity_key("p_plan_error", pid))
    with st.form(state.entity_key("plan", pid), clear_on_submit=False):
        c1, c2 = st.columns([4, 2])
        c1.text_input(t("next_action", lang), key=state.entity_key("plan_action", pid), max_chars=500,
                      value=pairing.get("next_action") or "")
        default = dt.date.fromisoformat(pairing["next_action_at"]) if pairing.get("next_action_at") else None
        c2.date_input(t("due_on", lang), key=state.entity_key("plan_at", pid), value=default, format="YYYY-MM-DD")
        if refused:
            st.error(refused)
        st.form_submit_button(t("save_plan", lang), on_click=_plan, args=(service, pid, actor, lang))


def render(service: App, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    head, export = st.columns([5, 2], vertical_alignment="bottom")
    head.header(t("pipeline", lang))
    export.download_button(t("export_pipeline", lang), lambda: service.exports.pipeline_file("xlsx", lang),
                           file_name="pipeline.xlsx", mime=XLSX, key="p_export")
    flash = state.take("p_flash")
    if flash:
        st.success(flash)
    rows, _total = service.pipeline.list_pairings(limit=500)
    if not rows:
        st.info(t("no_pairings", lang))
        return
    stages = service.vocab.pairing_stages
    due = service.pipeline.due_pairings()
    st.subheader(t("due", lang) + (f"（{len(due)}）" if lang == "zh" else f" ({len(due)})"), help=t("due_help", lang))
    if due:
        st.dataframe([{t("due_on", lang): r["next_action_at"], t("next_action", lang): r["next_action"],
                       "#": r["id"], t("stage", lang): stages.name(r["stage"], lang),
                       t("need", lang): r["need_title"], t("result", lang): r["result_title"]} for r in due],
                     hide_index=True, width="stretch")
    else:
        st.caption(t("nothing_due", lang))
    _board(service, rows, lang)
    st.divider()
    st.subheader(t("move", lang))
    open_rows = [r for r in rows if review.next_stages(r["stage"])]
    if not open_rows:
        return
    labels = {r["id"]: f"#{r['id']} [{stages.name(r['stage'], lang)}] {r['need_title']} ⇄ {r['result_title']}"
              for r in open_rows}
    pid = state.picker(st, t("open_pairing", lang), MODEL, list(labels), labels, key=PICKER,
                       placeholder=t("choose", lang))
    pairing = service.pipeline.get_pairing(pid)
    _parties(pairing, lang)
    _forms(service, pairing, actor, lang)
    st.caption(t("history", lang))
    entries = [h for h in pairing["history"] if _history_line(service, h, lang)]
    st.dataframe([{t("when", lang): local_time(h["at"]), t("who", lang): actor_label(h["actor"], lang),
                   t("what", lang): _history_line(service, h, lang)} for h in entries], hide_index=True,
                 width="stretch")
    if pairing.get("notes"):
        st.caption(t("notes", lang))
        st.text(pairing["notes"])
