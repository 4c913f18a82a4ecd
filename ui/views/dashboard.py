"""Dashboard: the figures operators report, as charts and tables."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from matcher.access import Principal
from matcher.review.figures import figures
from matcher.service import MatchService
from ui.i18n import t

COUNTERS = ("needs_posted", "needs_matched", "needs_solved", "confirmed_pairings", "contracts_signed")


def _frame(rows: list[dict], key: str, lang: str) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    names = {c: t({"contracts_signed": "contracts"}.get(c, c), lang) for c in COUNTERS}
    return df.set_index(key)[list(COUNTERS)].rename(columns=names)


def render(service: MatchService, lang: str, who: Principal) -> None:
    """The page (brokers and admins)."""
    st.header(t("dashboard", lang))
    f = figures(service)
    tot = f["totals"]
    cols = st.columns(7)
    for col, (label, value) in zip(cols, [
            (t("needs_posted", lang), tot["needs_posted"]), (t("needs_matched", lang), tot["needs_matched"]),
            (t("needs_solved", lang), tot["needs_solved"]), (t("confirmed_pairings", lang), tot["confirmed_pairings"]),
            (t("contracts", lang), tot["contracts_signed"]), (t("contract_total", lang), f"{tot['contract_value']:.0f}"),
            (t("ttfm", lang), f["time_to_first_match"]["median_days"] if f["time_to_first_match"]["n"] else "—")]):
        col.metric(label, value)
    by_month = _frame(f["by_month"], "month", lang)
    st.subheader(t("by_month", lang))
    if by_month.empty:
        st.info(t("empty", lang))
    else:
        st.line_chart(by_month)
    c1, c2 = st.columns(2)
    with c1:
        st.subheader(t("by_district", lang))
        df = _frame(f["by_district"], "district", lang)
        if not df.empty:
            st.bar_chart(df.iloc[:, :3], horizontal=True, height=420)
            st.dataframe(df, width="stretch")
    with c2:
        st.subheader(t("by_cluster", lang))
        rows = [{**r, "industry": r["name"]} for r in f["by_cluster"]]
        df = _frame(rows, "industry", lang)
        if not df.empty:
            st.bar_chart(df.iloc[:, :3], horizontal=True, height=420)
            st.dataframe(df, width="stretch")
