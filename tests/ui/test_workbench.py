"""Every page of the workbench, driven through its widgets with Streamlit's AppTest."""

from __future__ import annotations

import re

import pytest

from matcher.app import App

from ..conftest import make_settings
from .conftest import app, button

PAGES = {"queue": "审核队列", "pipeline": "对接进度", "listings": "需求与成果", "challenges": "揭榜挂帅",
         "dashboard": "数据看板", "batch": "批量匹配"}


def service_for(data):
    return App(make_settings(data))


@pytest.mark.parametrize(("page", "header"), PAGES.items())
def test_every_page_renders(workbench, page, header):
    at = app(workbench, role="admin").run()  # an admin may open every page
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, at.exception
    assert at.header[0].value == header


def _text(html_text: str) -> str:
    """Markdown with its HTML tags (term marks) taken out."""
    return re.sub(r"<[^>]+>", "", html_text)


def _label_id(label: str) -> int:
    return int(label.split()[0][1:])


def test_confirm_a_pair_and_find_it_in_the_pipeline(workbench):
    at = app(workbench).run()
    assert not at.exception
    pair_id = at.selectbox(key="pair").value
    s = service_for(workbench)
    need_title = s.store.get("needs", s.store.get("candidates", pair_id)["need_id"])["title"]
    assert any(need_title in _text(m.value) for m in at.markdown)  # the pair is open side by side
    assert any('class="term"' in m.value for m in at.markdown)  # shared terms highlighted
    cards = [_text(m.value) for m in at.markdown if 'class="listing"' in m.value]
    assert "预算 " in cards[0] and "截止日期 " in cards[0] and "价格 " in cards[1]  # what a broker acts on
    at.text_input(key=f"note:{pair_id}").input("企业已同意面谈")
    at.button(key="confirm_now").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("已确认，进入对接进度。")
    assert pair_id not in [_label_id(o) for o in at.selectbox(key="pair").options]
    assert s.store.get("candidates", pair_id)["status"] == "confirmed"
    review_row = s.store.find("reviews", candidate_id=pair_id)
    assert review_row["actor"].startswith("broker:测试技术转移中心#") and review_row["note"] == "企业已同意面谈"
    now_open = at.selectbox(key="pair").value
    assert at.text_input(key=f"note:{now_open}").value == ""  # the note does not carry over to the next pair
    at.sidebar.radio(key="page").set_value("pipeline").run()
    assert not at.exception
    assert any(need_title in m.value for m in at.markdown)
    assert at.metric[0].value == "1"  # one pairing at stage 已确认待联系


def test_after_a_decision_the_next_pair_opens_and_picker_and_cards_agree(workbench):
    """Confirm, reject, next and undo: after each, the picker's label, the open pair and the cards are the same
    pair; undo puts the decided pair back in the queue and opens it; a decided pair shows who decided what."""

    s = service_for(workbench)
    at = app(workbench).run()

    def shown() -> int:
        value = at.selectbox(key="pair").value
        label = at.selectbox(key="pair").format_func(value)
        need = s.store.get("needs", s.store.get("candidates", value)["need_id"])["title"]
        assert _label_id(label) == value and any(need in _text(m.value) for m in at.markdown)
        return value

    order = [_label_id(o) for o in at.selectbox(key="pair").options]
    first = shown()
    assert first == order[0]
    at.button(key="confirm_now").click().run()
    assert shown() == order[1]  # the next pair in the list, not a stale label
    at.selectbox(key=f"reason:{order[1]}").set_value("maturity_gap")
    at.button(key="reject_now").click().run()
    assert shown() == order[2] and s.store.get("candidates", order[1])["status"] == "rejected"
    at.button(key="undo_last").click().run()  # takes back the rejection and opens that pair again
    assert not at.exception and shown() == order[1] and s.store.get("candidates", order[1])["status"] == "pending"
    assert at.success[0].value.startswith("已撤销对 #")
    at.button(key="next_pair").click().run()
    assert shown() == order[2]
    at.selectbox(key="q_status").set_value("confirmed").run()
    assert shown() == first
    # who decided is named as a person reads it, never as the audit code (broker:…#3)
    assert any("已确认" in i.value and "测试技术转移中心（经纪人）" in i.value for i in at.info)
    assert not any("broker:" in i.value for i in at.info)
    at.button(key=f"undo_decided:{first}").click().run()
    assert s.store.get("candidates", first)["status"] == "pending" and not s.pipeline.list_pairings()[1]


def test_a_filter_that_hides_everything_says_so(workbench):
    at = app(workbench).run()
    at.slider(key="q_conf").set_value(90).run()
    assert not at.exception and at.info[0].value.startswith("没有符合当前筛选条件的候选对")


def test_move_a_pairing_to_a_signed_contract(workbench):

    s = service_for(workbench)
    cand = s.queue.list_candidates()[0][0]
    s.queue.decide(cand["id"], "confirm")
    at = app(workbench).run()
    pid = s.pipeline.list_pairings()[0][0]["id"]
    at.sidebar.radio(key="page").set_value("pipeline").run()
    at.selectbox(key=f"target:{pid}:confirmed").set_value("contacted")
    button(at, "推进").click().run()
    assert at.success[0].value == "已推进到「已联系」。"
    picker = at.selectbox(key="pairing")
    assert "[已联系]" in picker.format_func(picker.value)  # the picker names the stage the pairing is at now
    at.selectbox(key=f"target:{pid}:contacted").set_value("negotiating")  # the second move in a row works too
    at.text_input(key=f"move_note:{pid}:contacted").input("已约第二次面谈")
    button(at, "推进").click().run()
    assert not at.error and at.success[0].value == "已推进到「洽谈中」。"
    assert s.pipeline.get_pairing(pid)["stage"] == "negotiating" and "已约第二次面谈" in s.pipeline.get_pairing(pid)["notes"]
    at.selectbox(key=f"target:{pid}:negotiating").set_value("contract_signed")
    at.text_input(key=f"move_note:{pid}:negotiating").input("合同已盖章")
    button(at, "推进").click().run()
    assert at.error[0].value == "签约需填写合同金额（万元，大于 0）。"  # a signed contract needs its value
    assert at.text_input(key=f"move_note:{pid}:negotiating").value == "合同已盖章"  # what was typed is kept
    at.number_input(key=f"value:{pid}:negotiating").set_value(150.0)
    button(at, "推进").click().run()
    assert not at.exception
    pairing = s.pipeline.list_pairings()[0][0]
    assert pairing["stage"] == "contract_signed" and pairing["contract_value"] == 150.0
    at.sidebar.radio(key="page").set_value("dashboard").run()
    assert "150 万元" in [m.value for m in at.metric]


def test_reject_with_a_reason_and_bulk_reject(workbench):
    at = app(workbench).run()
    first = at.selectbox(key="pair").value
    at.button(key="reject_now").click().run()  # no reason chosen for this pair: refused, beside the controls
    assert at.error[0].value == "请先为这一对选择拒绝原因。"
    at.selectbox(key=f"reason:{first}").set_value("maturity_gap")
    at.button(key="reject_now").click().run()
    assert at.success[0].value.startswith("已拒绝。")
    s = service_for(workbench)
    assert s.store.find("reviews", candidate_id=first)["reason_code"] == "maturity_gap"
    second = at.selectbox(key="pair").value
    assert at.selectbox(key=f"reason:{second}").value is None  # the last reason is never reused silently
    at.button(key="reject_now").click().run()
    assert at.error and s.store.get("candidates", second)["status"] == "pending"
    bulk = next(m for m in at.multiselect if m.key.startswith("bulk_ids"))
    values = [c["id"] for c in s.store.rows("candidates", "status = 'pending'", order="score desc")][:2]
    bulk.set_value(values).run()
    at.selectbox(key="bulk_reason").set_value("duplicate")
    at.button(key="bulk_go").click().run()
    assert at.success[0].value == "已批量拒绝 2 对。"
    assert s.store.count("candidates", "status = 'rejected'") == 3
    assert at.selectbox(key="pair").value not in values  # the open pair is not one just rejected
    bulk = next(m for m in at.multiselect if m.key.startswith("bulk_ids"))
    assert bulk.value == []
    more = [c["id"] for c in s.store.rows("candidates", "status = 'pending'", order="score desc")][:2]
    bulk.set_value(more).run()
    at.button(key="bulk_confirm").click().run()  # bulk confirm: both open pairings
    assert at.success[0].value.startswith("已批量确认 2 对")
    assert {s.store.get("candidates", i)["status"] for i in more} == {"confirmed"} and s.store.count("pairings") == 2


def _fill_need(at, title: str = "火锅底料牛油酸败问题") -> None:
    at.text_input(key="n_org").input("重庆测试火锅食品有限公司")
    at.text_input(key="n_title").input(title)
    at.text_area(key="n_desc").input("底料储存半年后牛油氧化酸败，过氧化值超标，希望延长货架期到15个月。")
    at.selectbox(key="n_ind").set_value("food_agri")
    at.selectbox(key="n_dist").set_value("南岸区")
    at.multiselect(key="n_modes").set_value(["commissioned_dev"])
    at.text_input(key="n_contact").input("王工 023-62000000")


def _listings(at, section: str = "post_need"):
    """Open 需求与成果 and one of its sections."""
    at.sidebar.radio(key="page").set_value("listings").run()
    at.radio(key="l_section").set_value(section).run()
    return at


def test_post_a_need_and_find_it_in_search(workbench):
    at = _listings(app(workbench).run())
    _fill_need(at)
    button(at, "提交").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("已发布：#")
    assert at.text_input(key="n_title").value == "" and at.text_area(key="n_desc").value == ""  # emptied
    s = service_for(workbench)
    posted = s.store.find("needs", title="火锅底料牛油酸败问题")
    assert posted["contact"] == "王工 023-62000000" and posted["coop_modes"] == ["commissioned_dev"]
    at.radio(key="l_section").set_value("search").run()
    at.text_input(key="s_text").input("牛油酸败 货架期").run()
    at.radio(key="s_side").set_value("needs").run()
    assert not at.exception
    assert "火锅底料牛油酸败问题" in at.selectbox(key="s_open").format_func(at.selectbox(key="s_open").value)


def test_posting_the_same_need_twice_warns_before_saving(workbench):
    """The second post of a need is held with "可能重复：#…" until the broker ticks "post anyway"."""
    at = _listings(app(workbench).run())
    s = service_for(workbench)
    _fill_need(at)
    button(at, "提交").click().run()
    first = s.store.find("needs", title="火锅底料牛油酸败问题")["id"]
    _fill_need(at, "火锅底料牛油酸败问题（再次征集）")
    button(at, "提交").click().run()
    assert not at.exception and not at.success
    assert at.warning[0].value.startswith(f"可能重复：#{first} 火锅底料牛油酸败问题")
    assert s.store.count("needs") == 6  # held back, nothing saved
    # leaving the page forgets the warning: it never stays beside an emptied form
    at.sidebar.radio(key="page").set_value("queue").run()
    _listings(at)
    assert not at.warning and not [c for c in at.checkbox if c.key == "n_force"]
    _fill_need(at, "火锅底料牛油酸败问题（再次征集）")
    button(at, "提交").click().run()
    assert at.warning[0].value.startswith(f"可能重复：#{first}")
    at.checkbox(key="n_force").check()
    button(at, "提交").click().run()
    assert at.success[0].value.startswith("已发布：#") and s.store.count("needs") == 7


def test_a_bad_need_gets_clear_messages(workbench):
    """Required fields are marked; a refused field is named in Chinese with a Chinese reason, under its input,
    and the message goes once the field is fixed."""
    at = _listings(app(workbench).run())
    assert at.text_input(key="n_title").label.endswith(" *")
    button(at, "提交").click().run()  # empty form
    assert at.error and "**标题**：必填" in at.error[0].value and "**联系人及电话**：必填" in at.error[0].value
    assert "title" not in at.error[0].value and "String should" not in at.error[0].value
    assert service_for(workbench).store.count("needs") == 5
    _fill_need(at)
    at.text_input(key="n_kw").input("牛油," + "长" * 60)
    button(at, "提交").click().run()
    assert "关键词" in at.error[0].value and "超过 50 个字" in at.error[0].value
    assert at.text_input(key="n_title").value == "火锅底料牛油酸败问题"  # a refused form keeps what was typed
    at.text_input(key="n_kw").input("牛油,酸败")
    button(at, "提交").click().run()
    assert not at.error and at.success[0].value.startswith("已发布：#")


def test_publish_a_challenge_and_see_fitting_results(workbench):
    at = app(workbench).run()
    at.sidebar.radio(key="page").set_value("challenges").run()
    s = service_for(workbench)
    need = s.store.find("needs", ref="T-N02")
    at.selectbox(key="c_need").set_value(need["id"])
    at.text_area(key="c_goal").input("锂回收率≥95%")
    at.text_area(key="c_ind").input("电池级碳酸锂；中试线验证")
    button(at, "提交").click().run()
    assert not at.exception
    assert s.catalogue.get_listing("needs", need["id"])["is_challenge"]
    assert at.success[0].value.startswith(f"已发布为揭榜挂帅：#{need['id']}")  # publishing says so
    at.radio(key="c_open").set_value(need["id"]).run()
    assert any("磷酸铁锂废旧电池湿法回收工艺" in m.value for m in at.markdown)


def test_batch_from_the_ui_and_english(workbench):
    at = app(workbench, role="admin").run()
    at.sidebar.radio(key="page").set_value("batch").run()
    at.slider(key="b_k").set_value(3)
    at.button(key="b_go").click().run()
    assert not at.exception
    assert at.success[0].value == "完成：5 个开放需求，生成 15 个候选对。"
    at.sidebar.radio(key="lang").set_value("English").run()
    assert at.header[0].value == "Batch matching"


def test_queue_shows_confidence_and_filters_by_it(workbench):
    at = app(workbench).run()
    assert at.metric[0].label == "匹配把握" and at.metric[0].value.endswith("%")
    everything = len(at.selectbox(key="pair").options)
    confidences = [c["confidence"] for c in service_for(workbench).store.rows("candidates")]
    at.slider(key="q_conf").set_value(30).run()
    assert not at.exception
    sure = sum(c >= 0.3 for c in confidences)
    assert 0 < sure < everything and len(at.selectbox(key="pair").options) == sure


def test_an_institution_applies_to_a_challenge_and_a_broker_shortlists_it(workbench):

    s = service_for(workbench)
    need = s.store.find("needs", ref="T-N02")
    s.challenges.publish_challenge(need["id"], "锂回收率≥95%", "电池级碳酸锂；中试线验证", "2027-06-30", 200)
    at = app(workbench, role="institution").run()  # 测试工业大学 owns T-R01, T-R02, T-R08, T-R11
    at.sidebar.radio(key="page").set_value("challenges").run()
    at.radio(key="c_open").set_value(need["id"]).run()
    own = s.store.find("results", ref="T-R02")
    at.text_input(key=f"a_team:{need['id']}").input("湿法冶金课题组")
    at.text_area(key=f"a_proposal:{need['id']}").input("以自有湿法回收工艺揭榜，中试线验证锂回收率。")
    at.selectbox(key=f"a_result:{need['id']}").set_value(own["id"])
    button(at, "揭榜（提交申请）").click().run()
    assert not at.exception and at.success[0].value == "申请已提交。"
    (filed,) = s.challenges.list_applications(need["id"])
    assert (filed["org"], filed["result_id"], filed["status"]) == ("测试工业大学", own["id"], "submitted")
    # an institution applies once, and sees its application and where it stands instead of a second form
    assert not [b for b in at.button if b.label == "揭榜（提交申请）"]
    assert any("本单位已揭榜：已提交" in i.value for i in at.info)
    mine = at.dataframe[0].value
    assert list(mine.iloc[0])[:2] == [need["title"], "已提交"]
    at = app(workbench).run()  # a broker
    at.sidebar.radio(key="page").set_value("challenges").run()
    at.radio(key="c_open").set_value(need["id"]).run()
    assert any("以自有湿法回收工艺揭榜" in m.value for m in at.markdown)
    at.button(key=f"a_short_{filed['id']}").click().run()
    assert not at.exception and s.challenges.list_applications(need["id"])[0]["status"] == "shortlisted"
    assert any("已入围" in m.value for m in at.markdown)


def test_the_queue_opens_before_the_model_loads_and_a_load_failure_is_shown(workbench):
    """The first page reads only the store (the encoder and indexes load in the background); a model file that
    cannot be read is shown on the page, not lost in the loading thread."""
    import time

    from ui.state import get_service

    at = app(workbench).run()
    assert not at.exception and at.header[0].value == "审核队列"
    assert get_service().load_error is None
    get_service.clear()
    (workbench / "index" / "calibration.json").write_text("{not json", "utf-8")
    broken = get_service()
    deadline = time.monotonic() + 60
    while broken.load_error is None and time.monotonic() < deadline:
        time.sleep(0.2)
    at = app(workbench, role=None).run()
    assert at.error and "cannot be read" in at.error[0].value and "techmatch calibrate" in at.error[0].value


def test_a_broker_merges_a_copy_from_the_listing_page(workbench):
    s = service_for(workbench)
    keep = s.catalogue.find_by_ref("needs", "T-N01")
    org = s.store.get("organisations", keep["org_id"])["name"]
    copy = s.catalogue.add_need({**{k: keep[k] for k in ("title", "description", "industry", "district")}, "org": org})
    at = app(workbench).run()
    at.sidebar.radio(key="page").set_value("listings").run()
    at.radio(key="s_side").set_value("needs").run()
    at.selectbox(key="s_open").set_value(keep["id"]).run()
    assert any(w.value.startswith(f"可能重复：#{copy['id']}") for w in at.warning)
    at.button(key=f"merge_{copy['id']}").click().run()
    assert not at.exception and at.success[0].value.startswith(f"已将 #{copy['id']} 并入 #{keep['id']}")
    assert s.store.find("needs", id=copy["id"]) is None


def test_a_broker_plans_the_next_action_and_sees_it_due(workbench):
    import datetime as dt


    s = service_for(workbench)
    s.queue.decide(s.queue.list_candidates()[0][0]["id"], "confirm")
    at = app(workbench).run()
    pid = s.pipeline.list_pairings()[0][0]["id"]
    at.sidebar.radio(key="page").set_value("pipeline").run()
    assert any(c.value == "今天没有到期的事项。" for c in at.caption)
    at.text_input(key=f"plan_action:{pid}").input("约企业技术总监面谈")
    at.date_input(key=f"plan_at:{pid}").set_value(dt.date(2026, 1, 5))
    button(at, "保存下一步").click().run()
    assert not at.exception and at.success[0].value == "已保存下一步行动。"
    assert at.subheader[0].value.startswith("到期事项（1）")
    (pairing,), _ = s.pipeline.list_pairings()
    assert (pairing["next_action"], pairing["next_action_at"]) == ("约企业技术总监面谈", "2026-01-05")


def test_a_broker_runs_an_assignment_round_and_reviews_it_in_the_queue(workbench):
    s = service_for(workbench)
    at = app(workbench).run()
    at.sidebar.radio(key="page").set_value("assign").run()
    at.selectbox(key="g_org_a").set_value("测试榨菜集团")
    at.selectbox(key="g_org_b").set_value("测试农业大学")
    at.text_input(key="g_reason").input("同一集团")
    button(at, "添加回避").click().run()
    assert not at.exception and "测试榨菜集团" in " ".join(m.value for m in at.markdown)
    at.number_input(key="g_per_need").set_value(2)
    at.number_input(key="g_capacity").set_value(1)
    at.slider(key="g_conf").set_value(0)
    at.button(key="g_go").click().run()
    assert not at.exception, at.exception
    rnd = s.store.rows("assignment_rounds")[-1]
    assert at.success[0].value.startswith(f"第 {rnd['id']} 轮") and rnd["per_need"] == 2 and rnd["capacity"] == 1
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["本轮分配（精确）", "贪心（同样限制）", "逐需求前 k（不设限制）"]
    assert rnd["org_capacity"] is None  # no organisation limit unless one is set
    pairs = {(a["need_id"], a["result_id"]) for a in s.store.rows("assignments", "round_id = ?", [rnd["id"]])}
    farm = s.store.find("organisations", name="测试农业大学")["id"]
    pickle = s.store.find("needs", ref="T-N03")["id"]
    assert not any(n == pickle and s.store.get("results", r)["org_id"] == farm for n, r in pairs)
    # the queue shows the round's pairs instead of every ranked candidate
    at.sidebar.radio(key="page").set_value("queue").run()
    everything = len(at.selectbox(key="pair").options)
    at.selectbox(key="q_round").set_value(rnd["id"]).run()
    assert not at.exception and len(at.selectbox(key="pair").options) == len(pairs) < everything


def test_a_firm_subscribes_and_reads_its_daily_digest(workbench):
    from matcher.alerts import run_once

    s = service_for(workbench)
    run_once(s.alert_scan, s.deliveries)  # alerts start from here
    at = app(workbench, role="firm").run()  # 测试齿轮有限公司 owns the gear need T-N01
    at.sidebar.radio(key="page").set_value("alerts").run()
    assert "暂无提醒" in at.info[0].value
    at.radio(key="s_section").set_value("subscriptions").run()
    assert "尚无订阅" in at.info[0].value
    at.slider(key="s_conf").set_value(20)
    at.text_input(key="s_name").input("齿轮新成果")
    button(at, "订阅").click().run()
    assert not at.exception and at.success[0].value.startswith("已订阅")
    assert not any("尚无订阅" in i.value for i in at.info)  # the list above already shows it
    assert any("齿轮新成果" in m.value for m in at.markdown)
    at.radio(key="s_section").set_value("digest").run()
    sub = s.store.rows("subscriptions")[0]
    assert sub["kind"] == "own" and sub["side"] == "results" and sub["min_confidence"] == 0.2
    s.catalogue.add_result({"title": "齿轮齿面渗氮与激光复合强化工艺", "org": "测试工业大学", "industry": "smart_equipment",
                            "abstract": "针对减速器齿轮齿面点蚀，离子渗氮与激光淬火复合强化，接触疲劳寿命提升40%。"})
    assert run_once(s.alert_scan, s.deliveries)["alerts"] == 1
    at.run()
    text = " ".join(m.value for m in at.markdown)
    assert "齿轮齿面渗氮与激光复合强化工艺" in text and "减速器齿轮早期点蚀问题攻关" in text and "1 条提醒" in text


def test_the_need_form_checks_completeness_as_it_is_filled(workbench):
    at = _listings(app(workbench, role="firm").run())
    assert any("填写标题和描述后" in i.value for i in at.info)
    at.text_input(key="n_title").input("提升产品质量").run()
    shown = " ".join(m.value for m in at.markdown)
    assert "需求完整度" in shown and "目标指标" in shown  # vague: asks for targets with numbers
    at.text_area(key="n_desc").input("传统榨菜腌制含盐量高达12%，希望在保持脆度的前提下将含盐量降到6%以下，亚硝酸盐低于国标限量"
                                     "50%，改造须兼容现有腌制池，成本增加不超过每吨200元。").run()
    suggest = next(b for b in at.button if b.key == "n_use_ind")
    assert "食品" in suggest.label
    suggest.click().run()
    assert at.selectbox(key="n_ind").value == "food_agri" and not at.exception
    at.toggle(key="n_topic").set_value(True).run()
    assert any(m.value.startswith("#") and "研究" in m.value for m in at.markdown)
