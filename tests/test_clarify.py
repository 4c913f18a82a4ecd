"""Need clarification on the real fixture catalogue and the bundled encoder: completeness, prompts with examples
quoted from the catalogue, the cluster classifier (and its refresh), keywords and the research-topic draft."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matcher.clarify import WEIGHTS, cross_validate, cues, suggest_keywords
from matcher.ingest.schemas import NeedIn
from matcher.matching.explain import GENERIC_TERMS
from matcher.retrieval.text import sentences

from .conftest import FIXTURES, make_settings


def _fixture(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text("utf-8").splitlines() if line.strip()]


NEEDS = _fixture("mini_needs.jsonl")
RESULTS = _fixture("mini_results.jsonl")
PUBLIC_SENTENCES = {s for n in NEEDS if n["confidentiality"] == "公开"
                    for field in ("description", "challenge_goal", "challenge_indicators")
                    for s in sentences(n.get(field) or "")}


def test_weights_sum_to_one():
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("text, expected", [
    ("将含盐量降至6%以下", "降至6"), ("保质期≥9个月", "≥9"), ("定位精度0.01mm", "0.01mm"), ("提前一周发现故障", "提前一周"),
])
def test_quantified_targets_are_found(text, expected):
    assert expected in cues.quantities(text)
    assert cues.target_clauses(text)


def test_dates_are_no_indicators():
    assert cues.quantities("2020年1月13日发布，2027-06-30截止") == []


def test_vague_need_scores_low_with_prompts_and_real_examples(mini_service):
    report = mini_service.clarification.check_need({"title": "提升产品质量"})
    assert report["completeness"] < 0.2 and not report["complete"]
    missing = {m["field"]: m for m in report["missing"]}
    assert {"indicators", "current_state", "budget", "deadline"} <= set(missing)
    assert not report["present"]
    confidential = {mini_service.catalogue.find_by_ref("needs", n["ref"])["id"] for n in NEEDS if n["confidentiality"] != "公开"}
    for field in ("indicators", "current_state"):
        item = missing[field]
        assert item["prompt"] and item["source"] is not None
        assert item["example"] in PUBLIC_SENTENCES  # a real sentence of a public fixture need, quoted whole
        assert item["source"]["need_id"] not in confidential
    assert any(ch.isdigit() for ch in missing["indicators"]["example"])
    budget = missing["budget"]
    source = mini_service.catalogue.get_listing("needs", budget["source"]["need_id"])
    assert budget["example"] == f"预算{source['budget']:g}万元"
    deadline = missing["deadline"]
    assert mini_service.catalogue.get_listing("needs", deadline["source"]["need_id"])["deadline"] in deadline["example"]


def test_well_specified_need_scores_high(mini_service):
    stored = mini_service.catalogue.find_by_ref("needs", "T-N03")
    report = mini_service.clarification.check_need(stored)
    assert report["completeness"] >= 0.9 and report["complete"]
    assert {"indicators", "current_state", "constraints", "trl", "budget", "deadline", "cluster"} <= set(
        report["present"])
    raw = {k: v for k, v in NEEDS[2].items() if k in NeedIn.model_fields or k == "wanted_maturity"}
    assert mini_service.clarification.check_need(NeedIn.model_validate(raw))["completeness"] >= 0.9


def test_negotiable_budget_counts_half(mini_service):
    given = mini_service.clarification.check_need({"title": "榨菜减盐", "budget": "面议"})
    assert given["fields"]["budget"] == 0.5
    assert mini_service.clarification.check_need({"title": "榨菜减盐"})["fields"]["budget"] == 0.0


def test_a_half_filled_form_is_checked_with_its_invalid_fields_named(mini_service):
    report = mini_service.clarification.check_need({"title": "", "description": "减少焊接变形，变形量控制在0.5mm以内。",
                                                    "deadline": "明年", "wanted_trl_min": 7, "wanted_trl_max": 3})
    assert "deadline" in report["invalid"] and "wanted_trl_min" in report["invalid"]
    assert report["fields"]["indicators"] == 1.0


@pytest.mark.parametrize("draft, cluster", [
    ({"title": "榨菜腌制减盐", "description": "我们是涪陵的榨菜厂，想降低榨菜的含盐量，同时保持脆度。"}, "food_agri"),
    ({"title": "中药材有效成分提取纯化"}, "biomed"),
    ({"title": "设备轴承振动在线监测与故障预警"}, "software"),
])
def test_suggested_cluster_for_a_clear_text(mini_service, draft, cluster):
    suggested = mini_service.clarification.check_need(draft)["suggested"]
    assert suggested["industry"] == cluster
    assert suggested["industry_name"] == mini_service.vocab.industries.name(cluster)
    assert 0 < suggested["industry_confidence"] <= 1


def test_keywords_are_informative_terms(mini_service):
    words = suggest_keywords(mini_service.indexes.live.sides, "传统榨菜腌制含盐量高，需要在不影响脆度的前提下将含盐量降到6%以下，并降低亚硝酸盐含量。")
    assert {"榨菜", "含盐量", "亚硝酸盐"} <= set(words)
    assert len(words) <= 8 and not set(words) & GENERIC_TERMS


def test_research_topic_of_a_stored_need(mini_service):
    need = mini_service.catalogue.find_by_ref("needs", "T-N03")
    topic = mini_service.topics.research_topic(need_id=need["id"])
    assert topic["title"] == "面向食品及农产品加工的榨菜减盐降亚硝酸盐工艺关键技术研究"
    assert {"含盐量≤6%", "保质期≥9个月"} <= set(topic["indicators"])
    assert "传统榨菜腌制含盐量高" in topic["background"]
    assert any("不影响脆度" in c for c in topic["constraints"] + topic["indicators"])
    titles = {r["title"] for r in RESULTS}
    assert topic["teams"] and all(t["title"] in titles for t in topic["teams"])
    first = topic["teams"][0]
    assert first["title"] == "榨菜低盐腌制与乳酸菌发酵技术" and first["org"] == "测试农业大学"
    assert mini_service.catalogue.get_listing("results", first["result_id"])["title"] == first["title"]
    assert "## 考核指标" in topic["text"] and "含盐量≤6%" in topic["text"]


def test_research_topic_of_a_draft(mini_service):
    topic = mini_service.topics.research_topic(draft={"title": "齿轮热处理变形控制", "description": (
        "目前齿轮渗碳淬火后变形大。希望热处理变形控制在0.03毫米以内，成本不超过现有工艺。")}, top_k=3)
    assert topic["need_id"] is None and "热处理变形控制在0.03毫米以内" in topic["indicators"]
    assert topic["background"].startswith("目前齿轮渗碳淬火后变形大")
    assert len(topic["teams"]) == 3 and topic["teams"][0]["title"] == "齿轮齿面激光淬火强化工艺"


def test_classifier_refreshes_after_a_listing_is_added(catalogue_copy, e5_encoder):
    from matcher.app import App

    service = App(make_settings(catalogue_copy), encoder=e5_encoder)
    try:
        before = service.clusters.model_for()
        assert service.clusters.model_for() is before  # cached while the catalogue stands still
        assert "electronics" not in before.classes
        service.catalogue.add_result({"title": "车规级32位MCU芯片设计与封装测试", "abstract": "面向汽车电子的车规级微控制器芯片，"
                            "完成流片与AEC-Q100认证，集成电路设计与封装测试全流程。", "industry": "新一代电子信息制造业",
                                      "org": "测试微电子研究院"})
        after = service.clusters.model_for()
        assert after is not before and after.key[2] > before.key[2]
        assert "electronics" in after.classes and after.trained_on == before.trained_on + 1
    finally:
        service.close()


def test_cross_validation_reports_top1_and_top3():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    labels = [f"c{i % 4}" for i in range(80)] + ["rare"]
    vectors = np.vstack([centres[i % 4] + 0.1 * rng.normal(size=16) for i in range(80)] + [rng.normal(size=16)])
    out = cross_validate(vectors.astype(np.float32), labels, folds=5)
    assert out["top1"] >= 0.95 and out["top3"] >= out["top1"] and out["majority"] == pytest.approx(0.25)
    assert out["dropped"] == ["rare"] and out["listings"] == 80


def test_the_check_and_the_topic_through_the_api(catalogue_copy, e5_encoder):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from matcher.access import create_key
    from matcher.app import App

    s = App(make_settings(catalogue_copy), encoder=e5_encoder)
    firm = {"Authorization": f"Bearer {create_key(s.store, 'firm', '测试齿轮有限公司')[0]}"}
    broker = {"Authorization": f"Bearer {create_key(s.store, 'broker', '测试技术转移中心')[0]}"}
    vague = {"title": "提升产品质量", "description": "我司希望提升产品质量，寻求合作。"}
    with TestClient(create_app(s.settings, service=s)) as client:
        reply = client.post("/needs/check", headers=firm, json=vague)
        assert reply.status_code == 200, reply.text
        check = reply.json()
        assert check["completeness"] < check["threshold"] and not check["complete"]
        missing = {m["field"]: m for m in check["missing"]}
        assert {"indicators", "constraints", "budget", "deadline"} <= set(missing)
        assert missing["indicators"]["example"] and missing["indicators"]["prompt"].startswith("请")
        english = client.post("/needs/check", headers=firm, json=vague, params={"lang": "en"}).json()
        assert english["missing"] and all(not any("\u4e00" <= ch <= "\u9fff" for ch in m["prompt"])
                                          for m in english["missing"])
        odd = client.post("/needs/check", headers=firm, json={"title": "齿轮", "deadline": "明年", "wanted_trl_min": 12})
        assert odd.status_code == 200 and odd.json()["invalid"]  # checked anyway, the refused values named
        unreadable = client.post("/needs/check", headers=firm, json={"title": "齿轮", "budget": "很多"})
        assert unreadable.status_code == 422 and "budget" in unreadable.json()["error"]["message"]
        assert client.post("/needs/check", json=vague).status_code == 401
        assert client.post("/needs/topic", headers=firm, json={}).status_code == 422
        topic = client.post("/needs/topic", headers=firm, json={**vague, "description": NEEDS[0]["description"]})
        assert topic.status_code == 200 and topic.json()["teams"] and topic.json()["text"].startswith("#")
        secret = s.catalogue.find_by_ref("needs", "T-N04")["id"]  # confidential: its owner, brokers and admins only
        assert client.get(f"/needs/{secret}/topic").status_code == 403
        assert client.get(f"/needs/{secret}/topic", headers=firm).status_code == 403
        shown = client.get(f"/needs/{secret}/topic", headers=broker)
        assert shown.status_code == 200 and shown.json()["need_id"] == secret and shown.json()["indicators"]
    s.close()


@pytest.mark.parametrize("text", ["1" * 20000, "一" * 20000, "≥" + " " * 20000, "1." * 10000, "2026 " * 4000])
def test_a_pathological_draft_is_read_in_linear_time(text):
    import time

    from matcher.clarify import as_draft, score

    started = time.perf_counter()
    total, _ = score(as_draft({"title": "压力测试", "description": text}))
    # a regular expression that tries every suffix of a 20,000-digit run takes minutes (it did); linear is ~0.05 s
    assert 0 <= total <= 1 and time.perf_counter() - started < 3
