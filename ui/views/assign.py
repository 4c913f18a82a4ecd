"""Assignment rounds from the workbench: run one under capacity limits, read its figures beside greedy top-k, and
keep the organisation pairs that must never be proposed to each other."""

from __future__ import annotations

import streamlit as st

from matcher.access import Principal
from matcher.app import App
from matcher.errors import TechmatchError
from ui.forms import error_text
from ui.i18n import t
from ui.render import actor_label, local_time

FIGURES = ("pairs", "total_confidence", "needs_covered", "results_proposed", "max_per_result", "gini_per_result")


def _row(name: str, f: dict, lang: str) -> dict:
    row = {"": name}
    for k in FIGURES:
        value = f[k]
        if k == "needs_covered":
            value = f"{value}/{f['needs_open']}"
        elif isinstance(value, float):
            value = f"{value:.3f}" if k == "gini_per_result" else f"{value:.2f}"
        row[t("f_" + k, lang)] = str(value)
    return row


def _figures(rnd: dict, lang: str) -> None:
    """The round's figures on the same pool of pairs beside greedy under the same limits and greedy top-k with
    none; what each limit cost; and what was left out."""
    figs = rnd["figures"]
    st.caption(t("round_figures", lang))
    rows = [_row(t("this_round", lang), figs["assignment"], lang)]
    if "greedy_limited" in figs:
        rows.append(_row(t("greedy_limited", lang), figs["greedy_limited"], lang))
    rows.append(_row(t("greedy_top_k", lang), figs["greedy_top_k"], lang))
    st.dataframe(rows, hide_index=True, width="stretch")
    if figs.get("limits"):
        st.caption(t("limits_cost", lang))
        first = figs["limits"][0]
        st.dataframe([{t("limit", lang): t("limit_" + x["limit"], lang),
                       t("f_total_confidence", lang): f"{x['total_confidence']:.2f}",
                       t("f_cost", lang): f"{x['total_confidence'] - first['total_confidence']:+.2f}",
                       t("f_needs_covered", lang): f"{x['needs_covered']}/{x['needs_open']}",
                       t("f_results_proposed", lang): x["results_proposed"],
                       t("f_gini_per_result", lang): f"{x['gini_per_result']:.3f}"} for x in figs["limits"]],
                     hide_index=True, width="stretch")
    out = figs["left_out"]
    st.caption(t("left_out", lang, low=out["below_min_confidence"], own=out["same_organisation"],
                 rejected=out["rejected"], conflict=out["conflict"], copies=out["copies"]))


def _run(service: App, lang: str, actor: str) -> None:
    c1, c2, c3, c4 = st.columns(4)
    per_need = c1.number_input(t("per_need", lang), 1, 50, 3, key="g_per_need")
    capacity = c2.number_input(t("capacity", lang), 1, 1000, 2, key="g_capacity")
    # no organisation limit unless one is asked for: the limit is the organisation's own follow-up capacity
    org_capacity = c3.number_input(t("org_capacity", lang), 1, 10_000, value=None, key="g_org_capacity",
                                   placeholder=t("no_limit", lang), help=t("org_capacity_help", lang))
    min_conf = c4.slider(t("min_confidence", lang), 0, 90, 10, 5, format="%d%%", key="g_conf",
                         help=t("confidence_help", lang))
    if st.button(t("run_assign", lang), type="primary", key="g_go"):
        bar = st.progress(0.0)
        try:
            rnd = service.assignments.assign(int(per_need), int(capacity), min_conf / 100,
                                 int(org_capacity) if org_capacity else None, actor=actor,
                                 progress=lambda done, total: bar.progress(done / max(total, 1), f"{done}/{total}"))
        except TechmatchError as exc:
            st.error(error_text(exc, lang, service.vocab))
            return
        f = rnd["figures"]["assignment"]
        st.success(t("assign_done", lang, id=rnd["id"], pairs=f["pairs"], covered=f["needs_covered"],
                     open=f["needs_open"]))


def _rounds(service: App, lang: str) -> None:
    rows, _ = service.assignments.list_rounds(limit=10)
    if not rows:
        return
    st.subheader(t("rounds", lang))
    _figures(rows[0], lang)
    st.dataframe([{"#": r["id"], t("per_need", lang): r["per_need"], t("capacity", lang): r["capacity"],
                   t("org_capacity", lang): r["org_capacity"] or t("no_limit", lang),
                   t("min_confidence", lang): f"{r['min_confidence']:.0%}",
                   t("f_pairs", lang): r["figures"]["assignment"]["pairs"], t("when", lang): local_time(r["created_at"]),
                   t("by", lang): actor_label(r["actor"], lang)} for r in rows], hide_index=True, width="stretch")


def _conflicts(service: App, lang: str, actor: str) -> None:
    st.subheader(t("conflicts", lang))
    st.caption(t("conflicts_help", lang))
    orgs, _ = service.catalogue.list_orgs(limit=1000)
    names = sorted(o["name"] for o in orgs)
    with st.form("conflict_form", clear_on_submit=True):
        c1, c2, c3 = st.columns([3, 3, 3])
        org_a = c1.selectbox(t("org_a", lang), names, index=None, key="g_org_a", placeholder=t("choose", lang))
        org_b = c2.selectbox(t("org_b", lang), names, index=None, key="g_org_b", placeholder=t("choose", lang))
        reason = c3.text_input(t("conflict_reason", lang), max_chars=500, key="g_reason")
        if st.form_submit_button(t("add_conflict", lang)):
            try:
                if not org_a or not org_b:
                    raise TechmatchError(key="pick_two_orgs")
                service.assignments.add_conflict(org_a, org_b, reason, actor=actor)
            except TechmatchError as exc:
                st.error(error_text(exc, lang, service.vocab))
    rows = service.assignments.list_conflicts()
    if not rows:
        st.info(t("no_conflicts", lang))
        return
    for r in rows:
        c1, c2 = st.columns([8, 1])
        c1.markdown(f"**{r['org_a_name']}** ↔ **{r['org_b_name']}**" + (f" — {r['reason']}" if r["reason"] else ""))
        c2.button(t("remove", lang), key=f"g_rm_{r['id']}", on_click=service.assignments.remove_conflict,
                  args=(int(r["id"]),), kwargs={"actor": actor})


def render(service: App, lang: str, who: Principal) -> None:
    """The page (brokers and admins)."""
    st.header(t("assign", lang))
    st.caption(t("assign_intro", lang))
    _run(service, lang, who.actor)
    _rounds(service, lang)
    _conflicts(service, lang, who.actor)
