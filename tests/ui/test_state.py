"""The workbench's state model, defect by defect: a widget's value never outlives the entity it belongs to, the
picker, the table and the cards name one entity, messages die with their page, and nothing is shown as a code or
in the other language."""

from __future__ import annotations

import datetime as dt
import re

from matcher.app import App

from ..conftest import make_settings
from .conftest import app, button

CJK = re.compile(r"[\u4e00-\u9fff]")


def service_for(data):
    return App(make_settings(data))


def _cards(at) -> list[str]:
    return [re.sub(r"<[^>]+>", "", m.value) for m in at.markdown if 'class="listing"' in m.value]


def _agree(at, s) -> int:
    """The open pair as the picker names it, checked against the cards and the table's selection."""
    pid = at.selectbox(key="pair").value
    assert pid in at.selectbox(key="pair").options or at.selectbox(key="pair").format_func(pid).startswith(f"#{pid} ")
    cand = s.queue.get_candidate(pid)
    cards = _cards(at)
    assert cards[0].startswith(cand["need"]["title"]) and cards[1].startswith(cand["result"]["title"])
    key = next(k for k in at.session_state if str(k).startswith("q_table:"))  # the table of this list
    table = at.session_state[key]["selection"]["rows"]
    listed = [int(x) for x in at.dataframe[0].value["#"]]
    assert [listed[i] for i in table] == [pid], (table, pid)  # the table selects the open pair's row
    return pid


def test_after_a_filter_change_picker_table_and_cards_name_one_pair_and_y_confirms_it(workbench):
    s = service_for(workbench)
    at = app(workbench).run()
    _agree(at, s)
    at.selectbox(key="q_status").set_value("confirmed").run()  # nothing confirmed yet
    assert not at.exception
    at.selectbox(key="q_status").set_value("pending").run()
    at.multiselect(key="q_ind").set_value(["food_agri"]).run()  # the open pair is filtered out
    pid = _agree(at, s)
    assert s.queue.get_candidate(pid)["need"]["industry"] == "food_agri"
    at.button(key="confirm_now").click().run()
    assert s.store.get("candidates", pid)["status"] == "confirmed"  # the pair the picker named, nothing else
    assert s.store.count("candidates", "status = 'confirmed'") == 1
    _agree(at, s)


def test_the_table_selection_follows_every_decision_and_undo(workbench):
    s = service_for(workbench)
    at = app(workbench).run()
    first = _agree(at, s)
    at.button(key="confirm_now").click().run()
    second = _agree(at, s)  # the table moved with the picker: the old row is no longer selected
    assert second != first
    at.selectbox(key=f"reason:{second}").set_value("duplicate")
    at.button(key="reject_now").click().run()
    assert _agree(at, s) not in (first, second)
    at.button(key="undo_last").click().run()
    assert _agree(at, s) == second


def test_the_next_action_form_belongs_to_its_pairing(workbench):
    s = service_for(workbench)
    first, second = s.queue.list_candidates()[0][:2]
    s.queue.decide(first["id"], "confirm")
    s.queue.decide(second["id"], "confirm")
    pairings = {p["candidate_id"]: p["id"] for p in s.pipeline.list_pairings()[0]}
    one, two = pairings[first["id"]], pairings[second["id"]]
    at = app(workbench).run()
    at.sidebar.radio(key="page").set_value("pipeline").run()
    at.selectbox(key="pairing").set_value(two).run()
    at.text_input(key=f"plan_action:{two}").input("寄送样品")
    at.date_input(key=f"plan_at:{two}").set_value(dt.date(2026, 1, 5))
    button(at, "保存下一步").click().run()
    at.selectbox(key="pairing").set_value(one).run()
    assert at.text_input(key=f"plan_action:{one}").value == ""  # #1's form holds #1's (empty) plan
    assert at.date_input(key=f"plan_at:{one}").value is None
    at.text_input(key=f"plan_action:{one}").input("约面谈")
    at.date_input(key=f"plan_at:{one}").set_value(dt.date(2026, 1, 6))
    button(at, "保存下一步").click().run()
    assert s.pipeline.get_pairing(two)["next_action"] == "寄送样品"  # #2 kept its own
    assert s.pipeline.get_pairing(one)["next_action"] == "约面谈"
    assert {p["id"]: p["next_action"] for p in s.pipeline.due_pairings("2026-12-31")} == {one: "约面谈", two: "寄送样品"}
    # the history names every plan (no blank rows) and who made it
    history = at.dataframe[-1].value
    assert all(str(x).strip() for x in history.iloc[:, 2]) and any("约面谈" in str(x) for x in history.iloc[:, 2])


def test_a_refused_undo_is_said_in_chinese_without_codes(workbench):
    s = service_for(workbench)
    cand = s.queue.list_candidates()[0][0]
    s.queue.decide(cand["id"], "confirm")
    s.pipeline.move_pairing(s.pipeline.list_pairings()[0][0]["id"], "contacted")
    at = app(workbench).run()
    at.selectbox(key="q_status").set_value("confirmed").run()
    at.button(key=f"undo_decided:{cand['id']}").click().run()
    message = at.error[0].value
    assert "已推进到「已联系」" in message and "对接进度" in message
    assert not re.search(r"[A-Za-z_]{4,}", message)  # no English, no contract_signed-style codes


def test_the_need_form_has_no_district_unless_one_is_chosen(workbench):
    at = app(workbench).run()
    at.sidebar.radio(key="page").set_value("listings").run()
    at.radio(key="l_section").set_value("post_need").run()
    assert at.selectbox(key="n_dist").value is None
    at.text_input(key="n_org").input("重庆测试企业")
    at.text_input(key="n_title").input("管道焊缝自动检测")
    at.text_area(key="n_desc").input("需要对管道焊缝进行自动化超声检测，检出率达到95%以上。")
    at.selectbox(key="n_ind").set_value("smart_equipment")
    at.text_input(key="n_contact").input("李工 13800138000")
    button(at, "提交").click().run()
    assert at.success, [e.value for e in at.error]
    assert service_for(workbench).store.find("needs", title="管道焊缝自动检测")["district"] is None


def test_posting_a_need_does_not_rank_listings_and_a_language_switch_keeps_the_section(workbench):
    at = app(workbench).run()
    at.sidebar.radio(key="page").set_value("listings").run()
    assert any(s.value.startswith("「") and "最佳匹配" in s.value for s in at.subheader)  # search shows matches
    at.radio(key="l_section").set_value("post_need").run()
    assert not any("最佳匹配" in s.value for s in at.subheader)  # the form's section ranks nothing
    at.sidebar.radio(key="lang").set_value("English").run()
    assert at.radio(key="l_section").value == "post_need" and not at.exception  # the section stays


def test_firms_see_their_own_workbench_and_no_command_line_in_the_sign_in_form(workbench):
    at = app(workbench, role=None).run()
    assert "techmatch keys" not in at.text_input(key="signin_key").label
    at = app(workbench, role="firm").run()
    assert at.sidebar.title[0].value == "技术供需对接 · 企业工作台"
    at = app(workbench, role="institution").run()
    assert at.sidebar.title[0].value == "技术供需对接 · 院所工作台"


def test_english_pages_show_no_chinese_labels_units_or_punctuation(workbench):
    """Listings' own texts stay as written; everything the workbench itself says is English: no 万元, no 【】, no
    full-width colon, no ×10k."""
    s = service_for(workbench)
    need = s.catalogue.find_by_ref("needs", "T-N02")
    s.challenges.publish_challenge(need["id"], "锂回收率≥95%", "电池级碳酸锂", "2027-06-30", 200)
    s.queue.decide(s.queue.list_candidates()[0][0]["id"], "confirm")
    at = app(workbench, role="admin").run()
    listing_text = " ".join(str(v) for t in ("needs", "results", "organisations") for r in s.store.rows(t)
                            for v in r.values())  # the catalogue's own words (organisations' names among them)
    at.sidebar.radio(key="lang").set_value("English").run()
    for page in ("queue", "pipeline", "listings", "challenges", "dashboard", "assign", "alerts", "batch"):
        at.sidebar.radio(key="page").set_value(page).run()
        assert not at.exception, page
        shown = [e.value for kind in ("markdown", "caption", "info", "success", "subheader", "header", "metric")
                 for e in getattr(at, kind) if isinstance(e.value, str)]
        shown += [m.label for m in at.metric] + [b.label for b in at.button]
        for text in shown:
            plain = re.sub(r"<[^>]+>", " ", text)
            for bad in ("万元", "【", "】", "×10k"):
                assert bad not in plain, (page, bad, plain[:120])
            own = [w for w in re.findall(r"[\u4e00-\u9fff][\u4e00-\u9fff（）：·，、]*", plain)
                   if w not in listing_text]
            assert not own, (page, own[:5], plain[:160])


def test_the_dashboard_names_every_bar_and_sums_no_other(workbench):
    s = service_for(workbench)
    districts = [d for d in s.vocab.districts.codes][:16]  # more districts than the 12 bars a chart shows
    s.catalogue.add_listings("needs", [{"title": f"看板测试需求{i}", "description": "看板测试", "district": d, "org": "看板测试企业"}
                                       for i, d in enumerate(districts)])
    at = app(workbench).run()
    at.sidebar.radio(key="page").set_value("dashboard").run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "已推荐候选" in labels and all(len(label) <= 8 for label in labels), [x for x in labels if len(x) > 8]  # short enough to show
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 3
    for chart in charts:
        assert "其他" not in str(chart.proto)  # no summed bar dwarfing the named ones
    assert any(c.value.startswith("另有") for c in at.caption)  # the rest are named in a line instead
