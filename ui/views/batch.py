"""Batch matching from the workbench, with a progress bar and the figures of the last run."""

from __future__ import annotations

import streamlit as st

from matcher.access import Principal
from matcher.errors import TechmatchError
from matcher.retrieval.ranking import METHODS
from matcher.review import batches
from matcher.review.batches import BatchRunning
from matcher.service import MatchService
from ui.i18n import t


def _last(service: MatchService, lang: str) -> None:
    runs, _ = batches.list_runs(service, limit=5)
    if not runs:
        return
    st.subheader(t("last_run", lang))
    last = runs[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("status", lang), last["status"])
    c2.metric(t("needs", lang), f"{last['needs_done']}/{last['needs_total']}")
    c3.metric(t("queue", lang), last["candidates"])
    c4.metric(t("method", lang), last["method"])
    st.dataframe([{k: r[k] for k in ("id", "status", "method", "top_k", "needs_total", "candidates", "started_at",
                                     "finished_at", "actor")} for r in runs], hide_index=True,
                 width="stretch")


def render(service: MatchService, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    actor = who.actor
    st.header(t("batch", lang))
    c1, c2 = st.columns(2)
    top_k = c1.slider(t("top_k", lang), 1, 30, 10, key="b_k")
    method = c2.selectbox(t("method", lang), list(METHODS), key="b_method",
                          index=list(METHODS).index(service.batch_method()),
                          format_func=lambda m: f"{m} — {METHODS[m].description}")
    if st.button(t("run_batch", lang), type="primary", key="b_go", disabled=batches.running(service)):
        bar = st.progress(0.0)
        try:
            run = service.batch_match(top_k=top_k, method=method, actor=actor,
                                      progress=lambda done, total: bar.progress(done / max(total, 1),
                                                                                 f"{done}/{total}"))
        except BatchRunning:
            st.warning(t("batch_running", lang))
        except TechmatchError as exc:  # e.g. the learned method before any model was trained
            st.error(str(exc))
        else:
            st.success(t("batch_done", lang, needs=run["needs_total"], cands=run["candidates"]))
    _last(service, lang)
