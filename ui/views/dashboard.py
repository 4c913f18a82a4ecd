"""Dashboard: the figures operators report — a funnel whose steps are subsets of each other, the monthly trend,
sorted top-N breakdowns with every label, and the brokers' workload. Each figure's definition is in its help."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.access import Principal
from matcher.app import App
from matcher.review.figures import FUNNEL
from ui.forms import error_text
from ui.i18n import t
from ui.render import actor_label, local_time, money

TOP = 12  # bars per breakdown; the rest are named in a line below (a summed "other" bar would dwarf them all)


def _bars(rows: list[dict], label: str, value: str, lang: str, title: str, keep_order: bool = False) -> None:
    """Horizontal bars, largest first (or in the given order), every label shown in full; beyond the top 12, one
    line says how many more and how much they hold."""
    df = pd.DataFrame(rows)
    rest = df.iloc[TOP:] if len(df) > TOP else df.iloc[0:0]
    df = df.iloc[:TOP]
    st.bar_chart(df, x=label, y=value, horizontal=True, sort=False if keep_order else f"-{value}", x_label=title,
                 y_label="", color="#c9303e", height=max(140, 34 * len(df) + 60))
    if len(rest):
        st.caption(t("more_rows", lang, n=len(rest), total=int(rest[value].sum())))


def render(service: App, lang: str, who: Principal) -> None:
    """The page (brokers and admins)."""
    st.header(t("dashboard", lang))
    f = service.figures.figures()
    tot = f["totals"]
    st.subheader(t("funnel", lang), help=t("funnel_help", lang))
    for col, key in zip(st.columns(len(FUNNEL)), FUNNEL, strict=True):  # one row of five: no label is cut
        col.metric(t(key, lang), tot[key], help=t(f"{key}_help", lang))
    ttfm = f["time_to_first_match"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("contract_total", lang), money(tot["contract_value"], False, lang) if tot["contract_value"] else "—",
              help=t("contract_total_help", lang))
    c2.metric(t("ttfm", lang), ttfm["median_days"] if ttfm["n"] else "—", help=t("ttfm_help", lang, n=ttfm["n"]))
    c3.metric(t("results_listed", lang), tot["results_listed"], help=t("results_listed_help", lang))
    c4.metric(t("candidates_pending", lang), tot["candidates_pending"], help=t("candidates_pending_help", lang))
    _bars([{"step": t(r["step"], lang), "needs": r["needs"]} for r in f["funnel"]], "step", "needs", lang,
          t("needs", lang), keep_order=True)

    st.subheader(t("by_month", lang), help=t("by_month_help", lang))
    posted = pd.DataFrame(f["by_month"])
    paired = pd.DataFrame(f["pairings_by_month"])
    if posted.empty:
        st.info(t("empty", lang))
    else:
        trend = posted.set_index("month")[["needs_posted"]].rename(columns={"needs_posted": t("needs_posted", lang)})
        if not paired.empty:
            trend = trend.join(paired.set_index("month")[["confirmed_pairings", "contracts_signed"]].rename(
                columns={"confirmed_pairings": t("confirmed_pairings", lang),
                         "contracts_signed": t("contracts", lang)}), how="outer").fillna(0)
        st.line_chart(trend.sort_index(), height=260)

    c1, c2 = st.columns(2)
    posted_label = t("needs_posted", lang)
    with c1:
        st.subheader(t("by_district", lang), help=t("top_help", lang, n=TOP))
        rows = [{"name": service.vocab.districts.name(r["district"], lang) if r["district"] != "未注明"
                 else t("unspecified", lang), "needs": r["needs_posted"]} for r in f["by_district"]]
        if rows:
            _bars(rows, "name", "needs", lang, posted_label)
    with c2:
        st.subheader(t("by_cluster", lang), help=t("top_help", lang, n=TOP))
        rows = [{"name": service.vocab.industries.name(r["industry"], lang), "needs": r["needs_posted"]}
                for r in f["by_cluster"]]
        if rows:
            _bars(rows, "name", "needs", lang, posted_label)

    st.subheader(t("workload", lang), help=t("workload_help", lang))
    if f["workload"]:
        st.dataframe([{t("who", lang): actor_label(r["actor"], lang), t("confirmed", lang): r["confirmed"],
                       t("rejected", lang): r["rejected"], t("undo", lang): r["undone"],
                       t("last_decision", lang): local_time(r["last"])} for r in f["workload"]],
                     hide_index=True, width="stretch")
    else:
        st.info(t("empty", lang))
    _catalogue(service, lang)


MEDIA = {"pdf": "application/pdf", "html": "text/html",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _catalogue(service: App, lang: str) -> None:
    """The published needs catalogue (需求目录), made on request and offered as a download."""
    from matcher.errors import TechmatchError

    st.subheader(t("needs_catalogue", lang), help=t("needs_catalogue_help", lang))
    c1, c2, c3 = st.columns([2, 2, 3])
    by = c1.selectbox(t("group_by", lang), ["industry", "district"], key="p_by",
                      format_func=lambda b: t("cluster" if b == "industry" else "district", lang), placeholder=t("choose", lang))
    fmt = c2.selectbox(t("file_format", lang), ["pdf", "html", "xlsx"], key="p_fmt", format_func=str.upper, placeholder=t("choose", lang))
    if c3.button(t("make_catalogue", lang), key="p_go"):
        try:
            with st.spinner(t("making_catalogue", lang)):
                st.session_state["p_file"] = (by, fmt, service.publishing.publish(by, fmt, lang=lang))
        except TechmatchError as exc:
            st.error(error_text(exc, lang, service.vocab))
    made = st.session_state.get("p_file")
    if made:
        by, fmt, data = made
        st.download_button(t("download_catalogue", lang, fmt=fmt.upper(), kb=len(data) // 1024), data,
                           file_name=f"需求目录-{by}.{fmt}", mime=MEDIA[fmt], key="p_dl")
