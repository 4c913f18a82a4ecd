"""Listings: search needs and results, open one to see its best matches, post new ones, import files.

The open listing is the page's model (`s_sel`, an id); its matches are ranked once per catalogue state and kept for
the session, so a rerun for another widget neither ranks again nor shows another listing's matches meanwhile. Only
the chosen section (search, post, import) is drawn on a run: typing in the need form does not rank listings."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from matcher.access import Principal
from matcher.app import App
from matcher.catalogue.importer import detect_format
from matcher.errors import Forbidden, TechmatchError
from matcher.ingest.template import template_xlsx
from matcher.matching import explain
from ui import forms, state
from ui.i18n import t
from ui.render import badge, card, colon, highlight

OPEN = "s_sel"  # the open listing's id (the model)


def _search(service: App, lang: str, who: Principal) -> None:
    v = service.vocab
    c1, c2, c3 = st.columns([5, 2, 3])
    text = c1.text_input(t("search_text", lang), key="s_text", max_chars=500)
    side = c2.radio(t("side", lang), ["results", "needs"], format_func=lambda s: t(s, lang), key="s_side",
                    horizontal=True)
    industry = c3.multiselect(t("cluster", lang), placeholder=t("all", lang), options=v.industries.codes, format_func=v.industries.namer(lang), key="s_ind", select_all=False)
    filters = {"industry": industry}
    if text.strip():
        hits = service.matching.search(text, side=side, top_k=20, filters=filters, viewer=who)
        rows = [{**m.item, "_score": m.score} for m in hits]
    else:
        rows, _ = service.catalogue.list_listings(side, filters, limit=50, viewer=who)
    if not rows:
        st.info(t("empty", lang))
        return
    table = pd.DataFrame([{"#": r["id"], t("title", lang): r["title"], t("cluster", lang): v.industries.name(r["industry"], lang), t("district", lang): v.districts.name(r["district"], lang) if r.get("district") else "", **(
        {t("score", lang): round(r["_score"], 3)} if "_score" in r else {})} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch", height=260)
    labels = {r["id"]: f"#{r['id']} {r['title']}" for r in rows}
    chosen = state.picker(st, t("open_listing", lang), f"{OPEN}:{side}", list(labels), labels, key="s_open",
                          placeholder=t("choose", lang))
    row = service.catalogue.get_listing(side, chosen, viewer=who)  # a confidential need's text: its owner and brokers only
    body = row.get("description") if side == "needs" else row.get("abstract")
    badges = [badge(v.industries.name(row["industry"], lang)),
              badge(v.districts.name(row["district"], lang) if row.get("district") else "—")]
    if row.get("confidentiality") == "brokers":
        badges.insert(0, badge(t("confidential", lang), "secret"))
    st.markdown(card(row["title"], badges, f"#{row['id']}", highlight(body or "", [])), unsafe_allow_html=True)
    if who.privileged:
        for dup in service.catalogue.duplicates(side, chosen, viewer=who):
            c1, c2 = st.columns([5, 1])
            c1.warning(t("possible_duplicate_of", lang, id=dup["id"], title=dup["title"],
                         sim=f"{dup['similarity']:.2f}"))
            c2.button(t("merge_here", lang), key=f"merge_{dup['id']}", help=t("merge_help", lang),
                      on_click=_merge, args=(service, side, chosen, dup["id"], who.actor, lang))
    merged = state.take("s_merged")
    if merged:
        st.success(merged)
    st.subheader(t("matches_for", lang, title=row["title"]))
    try:  # once per listing, caller and catalogue state (the log sequence moves with every write anywhere)
        found_all = state.cached(("matches", side, chosen, who.role, who.org_id, service.indexes.applied_seq),
                                 lambda: service.matching.match_listing(side, chosen, top_k=5, viewer=who))
    except Forbidden:  # a confidential need's matches are ranked by the text it withholds: the service says no
        st.info(t("matches_confidential", lang))
        found_all = []
    for found in found_all:
        m = found.to_dict()
        ex = m["explanation"]
        sure = f" · {t('confidence', lang)} {m['confidence']:.0%}" if m.get("confidence") is not None else ""
        st.markdown(f"**{m['rank']}. {m['item']['title']}**{sure}")
        line = explain.summary(ex["shared_terms"], ex["fits"], lang, v) if ex.get("fits") else ex.get("summary", "")
        st.markdown(f'<div class="muted">{html.escape(line)}</div>', unsafe_allow_html=True)


def _merge(service: App, side: str, keep: int, drop: int, actor: str, lang: str) -> None:
    """(Button callback) fold the duplicate into the open listing."""
    done = service.catalogue.merge_listings(side, keep, drop, actor)
    state.note("s_merged", t("merged", lang, drop=drop, keep=keep, n=done["candidates"] + done["pairings"]))


def _own_org(who: Principal, lang: str, key: str) -> str | None:
    """The organisation a listing is posted for: brokers and admins name it, firms and institutions post their own."""
    if who.privileged:
        return st.text_input(t("org", lang), key=key, max_chars=200) or None
    st.caption(f"{t('org', lang)}{colon(lang)}{who.org_name}")
    return who.org_name


# the form widgets of each side: listing field → widget key (prefix n_ for needs, r_ for results)
FORM_FIELDS = {
    "needs": {"org": "n_org", "title": "n_title", "description": "n_desc", "industry": "n_ind", "district": "n_dist",
              "wanted_maturity": "n_mat", "coop_modes": "n_modes", "budget": "n_budget", "deadline": "n_dl",
              "keywords": "n_kw", "contact": "n_contact"},
    "results": {"org": "r_org", "title": "r_title", "abstract": "r_abs", "industry": "r_ind", "district": "r_dist",
                "maturity": "r_mat", "transfer_modes": "r_modes", "price": "r_price", "ip_type": "r_ip",
                "keywords": "r_kw", "contact": "r_contact"},
}
REQUIRED = {"needs": ("org", "title", "description", "industry", "contact"),
            "results": ("org", "title", "abstract", "industry", "contact")}
CLEARED = ("title", "description", "abstract", "keywords", "budget", "price")  # emptied after a listing is posted


def _form_data(side: str, who: Principal) -> dict:
    """The listing as the form holds it (organisation: the caller's own unless a broker or admin names one)."""
    state = st.session_state
    data = {field: state.get(key) for field, key in FORM_FIELDS[side].items()}
    if not who.privileged:
        data["org"] = who.org_name
    if side == "needs":
        data["confidentiality"] = "brokers" if state.get("n_secret") else "public"
    data["posted_at"] = dt.date.today()
    return {k: v for k, v in data.items() if v is not None}


def _submit(service: App, side: str, who: Principal, lang: str) -> None:
    """(Form callback) post the listing: refused fields are shown beside their inputs and the form keeps its
    values; a likely duplicate is shown first and posted only when the broker ticks "post anyway"; after a post
    the form is emptied, so a second click cannot post the same listing again."""
    session, prefix = st.session_state, side[0]
    data = _form_data(side, who)
    state.take(f"{prefix}_errors")
    state.take(f"{prefix}_dup")
    missing = {f: t("required_field", lang) for f in REQUIRED[side] if not str(data.get(f) or "").strip()}
    if missing:
        state.note(f"{prefix}_errors", missing)
        return
    try:
        if not session.get(f"{prefix}_force"):
            found = service.catalogue.draft_duplicates(side, [data], viewer=who)
            if 0 in found and found[0].get("id") is not None:
                state.note(f"{prefix}_dup", found[0])  # held until "post anyway", or forgotten with the page
                return
        row = (service.catalogue.add_need if side == "needs" else service.catalogue.add_result)(data, actor=who.actor)
    except ValidationError as exc:
        state.note(f"{prefix}_errors", forms.messages(exc, lang))
        return
    except (TechmatchError, ValueError) as exc:
        state.note(f"{prefix}_errors", {"": forms.error_text(exc, lang, service.vocab)})
        return
    state.note(f"{prefix}_posted", t("posted", lang, id=row["id"], title=row["title"]))
    session[f"{prefix}_force"] = False
    for field in CLEARED:
        key = FORM_FIELDS[side].get(field)
        if key:
            session[key] = None if field in ("budget", "price") else ""


def _feedback(side: str, lang: str) -> dict[str, str]:
    """Show what the last submit did (posted, a likely duplicate, refused fields); returns the field errors."""
    prefix = side[0]
    posted = state.take(f"{prefix}_posted")
    if posted:
        st.success(posted)
    dup = state.peek(f"{prefix}_dup")
    if dup:
        st.warning(t("possible_duplicate", lang, id=dup["id"], title=dup["title"], sim=f"{dup['similarity']:.2f}"))
    errors = state.peek(f"{prefix}_errors") or {}
    if errors:
        st.error(t("invalid", lang) + "\n" + forms.lines(errors, lang))
    return errors


def _label(field: str, key: str, side: str, lang: str) -> str:
    """A form label, marked when the field is required."""
    return t(key, lang) + (" *" if field in REQUIRED[side] else "")


def _inline(errors: dict[str, str], *fields: str) -> None:
    """The reason a field was refused, right under it (gone once the form is submitted without it)."""
    for f in fields:
        if f in errors:
            st.caption(f":red[{errors[f]}]")


def _head(service: App, side: str, errors: dict[str, str], who: Principal, lang: str):
    """The fields both forms open with: organisation (brokers and admins name it), title, text, cluster, district;
    returns the third column of the cluster row for the side's own field."""
    v, keys = service.vocab, FORM_FIELDS[side]
    body = "description" if side == "needs" else "abstract"
    if who.privileged:
        st.text_input(_label("org", "org", side, lang), key=keys["org"], max_chars=200)
        _inline(errors, "org")
    else:
        st.caption(f"{t('org', lang)}：{who.org_name}")
    st.text_input(_label("title", "title", side, lang), key=keys["title"], max_chars=200)
    _inline(errors, "title")
    st.text_area(_label(body, body, side, lang), key=keys[body], max_chars=20000)
    _inline(errors, body)
    c1, c2, c3 = st.columns(3)
    c1.selectbox(_label("industry", "cluster", side, lang), v.industries.codes, format_func=v.industries.namer(lang),
                 key=keys["industry"], index=None, placeholder=t("choose", lang))
    # no district unless one is chosen: a false district would earn a false 同一区县 fit
    c2.selectbox(t("district", lang), v.districts.codes, format_func=v.districts.namer(lang), key=keys["district"],
                 index=None, placeholder=t("district_unset", lang))
    return c3


def _post_need(service: App, lang: str, who: Principal) -> None:
    v = service.vocab
    errors = _feedback("needs", lang)
    form, advice = st.columns([3, 2])
    # not an st.form: every field change reruns the page, so the completeness check beside it follows the typing
    with form.container(border=True, key="post_need"):
        c3 = _head(service, "needs", errors, who, lang)
        c3.selectbox(t("wanted_maturity", lang), [m.label for m in v.maturity], index=3, key="n_mat",
                     format_func=lambda lab: v.maturity_level(lab).name(lang), placeholder=t("choose", lang))
        c4, c5, c6 = st.columns(3)
        c4.multiselect(t("modes", lang), placeholder=t("modes_any", lang), options=v.transfer_modes.codes,
                       format_func=v.transfer_modes.namer(lang), key="n_modes", select_all=False)
        c5.number_input(t("budget", lang), min_value=0.0, max_value=1e8, value=None, key="n_budget")
        c6.date_input(t("deadline", lang), value=dt.date.today() + dt.timedelta(days=365), key="n_dl",
                      format="YYYY-MM-DD")
        _inline(errors, "budget", "deadline")
        c7, c8 = st.columns([2, 1])
        c7.text_input(t("keywords", lang), key="n_kw", max_chars=500)
        c8.text_input(_label("contact", "contact", "needs", lang), key="n_contact", max_chars=200,
                      placeholder=t("contact_hint", lang))
        _inline(errors, "keywords", "contact")
        st.checkbox(t("brokers_only", lang), key="n_secret")
        if state.peek("n_dup"):
            st.checkbox(t("post_anyway", lang), key="n_force")
        st.button(t("submit", lang), type="primary", key="n_submit", on_click=_submit,
                  args=(service, "needs", who, lang))
    with advice:
        _clarity(service, lang, who)


def _use(key: str, value: object) -> None:
    """(Button callback) put a suggestion into a form field."""
    st.session_state[key] = value


def _clarity(service: App, lang: str, who: Principal) -> None:
    """The need check beside the form: completeness, what is missing with an example from similar needs, the
    suggested cluster and keywords (one click each), and a research-topic draft."""
    data = _form_data("needs", who)
    if not (str(data.get("title") or "").strip() or str(data.get("description") or "").strip()):
        st.info(t("clarity_intro", lang))
        return
    # every rerun of this page draws the check: look it up again only when the draft, language or catalogue changed
    key = (repr(sorted(data.items(), key=lambda kv: kv[0])), lang, service.indexes.applied_seq)
    memo = st.session_state.get("n_check")
    if memo is None or memo[0] != key:
        try:
            memo = (key, service.clarification.check_need(data, viewer=who, lang=lang))
        except TechmatchError as exc:
            st.warning(forms.own_reason(str(exc), lang))
            return
        st.session_state["n_check"] = memo
    check = memo[1]
    share = check["completeness"]
    st.markdown(f"**{t('completeness', lang)}：{share:.0%}**" if lang == "zh"
                else f"**{t('completeness', lang)}: {share:.0%}**", help=t("completeness_help", lang))
    st.progress(min(1.0, share), text=t("complete_enough" if check["complete"] else "not_complete_enough", lang))
    for item in check["missing"][:6]:
        st.markdown(f"- **{t('need_field_' + item['field'], lang)}** — {html.escape(item['prompt'])}",
                    unsafe_allow_html=True)
        if item.get("example") and item["field"] != "cluster":
            source = item.get("source") or {}
            where = ""
            if source.get("need_id"):
                where = (f"（#{source['need_id']} {source['title']}）" if lang == "zh"
                         else f" (#{source['need_id']} {source['title']})")
            st.caption(t("example", lang) + ("：" if lang == "zh" else ": ") + item["example"] + where)
    suggested = check["suggested"]
    if suggested.get("industry") and suggested["industry"] != data.get("industry"):
        st.button(t("use_cluster", lang, name=service.vocab.industries.name(suggested["industry"], lang),
                    p=f"{suggested['industry_confidence']:.0%}"), key="n_use_ind", on_click=_use,
                  args=(FORM_FIELDS["needs"]["industry"], suggested["industry"]))
    have = {k.strip() for k in str(data.get("keywords") or "").replace("，", ",").split(",") if k.strip()}
    extra = [k for k in suggested.get("keywords", []) if k not in have][:6]
    if extra:
        st.button(t("use_keywords", lang, words="、".join(extra)), key="n_use_kw", on_click=_use,
                  args=(FORM_FIELDS["needs"]["keywords"], ",".join([*have, *extra])))
    if st.toggle(t("topic_draft", lang), key="n_topic", help=t("topic_draft_help", lang)):
        try:
            st.markdown(service.topics.research_topic(draft=data)["text"])
        except TechmatchError as exc:
            st.warning(forms.own_reason(str(exc), lang))


def _post_result(service: App, lang: str, who: Principal) -> None:
    v = service.vocab
    errors = _feedback("results", lang)
    with st.form("post_result", clear_on_submit=False):
        c3 = _head(service, "results", errors, who, lang)
        c3.selectbox(t("maturity", lang), [m.label for m in v.maturity], index=2, key="r_mat",
                     format_func=lambda lab: v.maturity_level(lab).name(lang), placeholder=t("choose", lang))
        c4, c5, c6 = st.columns(3)
        c4.multiselect(t("modes", lang), placeholder=t("modes_any", lang), options=v.transfer_modes.codes,
                       format_func=v.transfer_modes.namer(lang), key="r_modes", select_all=False)
        c5.number_input(t("price", lang), min_value=0.0, max_value=1e8, value=None, key="r_price")
        c6.selectbox(t("ip_type", lang), v.ip_types.codes, format_func=v.ip_types.namer(lang), key="r_ip", placeholder=t("choose", lang))
        _inline(errors, "price")
        c7, c8 = st.columns([2, 1])
        c7.text_input(t("keywords", lang), key="r_kw", max_chars=500)
        c8.text_input(_label("contact", "contact", "results", lang), key="r_contact", max_chars=200,
                      placeholder=t("contact_hint", lang))
        _inline(errors, "keywords", "contact")
        if state.peek("r_dup"):
            st.checkbox(t("post_anyway", lang), key="r_force")
        st.form_submit_button(t("submit", lang), type="primary",
                              on_click=_submit, args=(service, "results", who, lang))


def _report_rows(report, lang: str) -> list[dict]:
    """The rows an import refused, warned about or found duplicated, as a broker reads them (Excel row numbers,
    field names and reasons in the chosen language)."""
    out = [{t("row", lang): r.row, t("field", lang): forms.field_label(r.field, lang) if r.field else "—",
            t("problem", lang): t("rejected_row", lang), t("why", lang): forms.own_reason(r.reason, lang)}
           for r in report.rejected]
    out += [{t("row", lang): w.row, t("field", lang): forms.field_label(w.field, lang) if w.field else "—",
             t("problem", lang): t("changed_value", lang), t("why", lang): forms.own_reason(w.reason, lang)}
            for w in report.warnings]
    for d in report.duplicates:
        what = (t("dup_of_listing", lang, id=d["duplicate_of"], title=d["title"]) if "duplicate_of" in d
                else t("dup_of_row", lang, row=d["duplicate_of_row"], title=d["title"]))
        out.append({t("row", lang): d["row"], t("field", lang): forms.field_label("title", lang),
                    t("problem", lang): t("duplicate", lang), t("why", lang): what})
    return sorted(out, key=lambda r: r[t("row", lang)])


def _import(service: App, lang: str, actor: str) -> None:
    kind = st.radio(t("kind", lang), ["needs", "results", "organisations"], horizontal=True, key="i_kind",
                    format_func=lambda k: t(k, lang))
    if kind != "organisations":
        st.download_button(t("template", lang), template_xlsx(kind, service.vocab), key="i_template",
                           file_name=f"techmatch-{kind}-template.xlsx", help=t("template_help", lang),
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    # Streamlit's own "Browse files" button, relabelled in the chosen language (its text is not a parameter)
    st.markdown(f"""<style>[data-testid="stFileUploaderDropzone"] button * {{display: none;}}
[data-testid="stFileUploaderDropzone"] button::after {{content: "{t('browse_files', lang)}"; font-size: 14px;}}
</style>""", unsafe_allow_html=True)
    upload = st.file_uploader(t("upload", lang), type=["csv", "jsonl", "json", "xlsx"], key="i_file",
                              help=t("upload_help", lang))
    st.caption(t("upload_limit", lang, mb=service.settings.max_upload_bytes // 1_000_000))
    skip = st.checkbox(t("skip_duplicates", lang), key="i_skip", value=True)
    if upload is not None and st.button(t("import", lang), key="i_go", type="primary"):
        try:
            report = service.importer.import_bytes(upload.getvalue(), kind, detect_format(upload.name), actor=actor,
                                                   source=upload.name, skip_duplicates=skip)
        except (TechmatchError, ValueError) as exc:
            st.error(forms.error_text(exc, lang, service.vocab))
            return
        st.success(t("import_done", lang, a=report.accepted, c=report.created, u=report.updated,
                     r=len({x.row for x in report.rejected})) + (
            " " + t("import_skipped", lang, n=report.skipped) if report.skipped else ""))
        rows = _report_rows(report, lang)
        if rows:
            st.dataframe(rows, hide_index=True, width="stretch")
            frame = pd.DataFrame(rows)
            st.download_button(t("download_report", lang), frame.to_csv(index=False).encode("utf-8-sig"),
                               file_name=f"{Path(upload.name).stem}-import-report.csv", mime="text/csv",
                               key="i_report")


def render(service: App, lang: str, who: Principal) -> None:
    """The page (for a signed-in principal, who is the audit actor)."""
    st.header(t("listings", lang))
    # the API's roles: firms post needs, institutions results, brokers and admins both; only admins import
    sections = {"search": True, "post_need": who.role in ("firm", "broker", "admin"),
                "post_result": who.role in ("institution", "broker", "admin"), "import": who.role == "admin"}
    shown = [name for name, allowed in sections.items() if allowed]
    # the section is a choice by code (a switch of language keeps it; tabs would open the first again)
    name = st.radio(t("section", lang), shown, format_func=lambda n: t(n, lang), key="l_section", horizontal=True,
                    label_visibility="collapsed")
    if name == "search":
        _search(service, lang, who)
    elif name == "post_need":
        _post_need(service, lang, who)
    elif name == "post_result":
        _post_result(service, lang, who)
    else:
        _import(service, lang, who.actor)
