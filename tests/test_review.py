"""Broker review, the pairing pipeline, challenges and the operators' figures on a real catalogue."""

from __future__ import annotations

import pytest

from matcher.errors import Conflict

from .conftest import FIXTURES


@pytest.fixture
def batched(fresh_service):
    fresh_service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    fresh_service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    fresh_service.batches.run_now(top_k=3)
    return fresh_service


def test_queue_lists_ranked_candidates_with_filters(batched):
    rows, total = batched.queue.list_candidates()
    assert total == 15 and len(rows) == 15
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert {"title", "org", "confidentiality"} <= set(rows[0]["need"]) and "trl" in rows[0]["result"]
    food, n = batched.queue.list_candidates(industry=["food_agri"])
    assert n == 3 and all(r["need"]["industry"] == "food_agri" for r in food)
    assert batched.queue.list_candidates(min_score=10.0)[1] == 0
    assert all(0 <= r["confidence"] <= 1 for r in rows)
    sure, n_sure = batched.queue.list_candidates(min_confidence=0.3, sort="-confidence")
    assert n_sure == sum(r["confidence"] >= 0.3 for r in rows) and all(r["confidence"] >= 0.3 for r in sure)
    assert [r["confidence"] for r in sure] == sorted((r["confidence"] for r in sure), reverse=True)
    with pytest.raises(ValueError, match="cannot sort"):
        batched.queue.list_candidates(sort="title")


def test_confirm_opens_a_pairing_that_moves_to_a_contract(batched):
    s = batched
    cand = s.queue.list_candidates(need_id=s.store.find("needs", ref="T-N01")["id"])[0][0]
    s.queue.decide(cand["id"], "confirm", note="双方有意向", actor="broker-1")
    assert s.catalogue.get_listing("needs", cand["need_id"])["status"] == "matched"
    assert cand["id"] not in [r["id"] for r in s.queue.list_candidates()[0]]
    with pytest.raises(Conflict, match="already confirmed"):
        s.queue.decide(cand["id"], "reject", "off_topic")
    (pairing,), _ = s.pipeline.list_pairings()
    assert pairing["stage"] == "confirmed"
    with pytest.raises(Conflict, match="can move to contacted, dropped"):
        s.pipeline.move_pairing(pairing["id"], "closed")
    s.pipeline.move_pairing(pairing["id"], "contacted", actor="broker-1")
    s.pipeline.move_pairing(pairing["id"], "negotiating", actor="broker-1", note="报价中")
    with pytest.raises(ValueError, match="contract_value"):
        s.pipeline.move_pairing(pairing["id"], "contract_signed")
    done = s.pipeline.move_pairing(pairing["id"], "contract_signed", actor="broker-1", contract_value=120)
    assert done["stage"] == "contract_signed" and done["contract_value"] == 120 and done["signed_at"]
    assert [h["detail"]["to"] for h in done["history"] if h["action"] == "move"] == [
        "contacted", "negotiating", "contract_signed"]
    assert all(h["actor"] == "broker-1" and h["at"] for h in done["history"] if h["action"] == "move")
    assert s.catalogue.get_listing("needs", cand["need_id"])["status"] == "solved"
    f = s.figures.figures()
    assert f["totals"]["needs_solved"] == 1 and f["totals"]["contracts_signed"] == 1
    assert f["totals"]["contract_value"] == 120 and f["time_to_first_match"]["n"] == 1
    assert f["last_batch"]["status"] == "done"
    assert sum(r["needs_posted"] for r in f["by_district"]) == 5
    assert {r["industry"] for r in f["by_cluster"]} >= {"smart_equipment", "food_agri"}


def test_reject_needs_a_known_reason_and_bulk_reject_is_all_or_nothing(batched):
    s = batched
    rows, _ = s.queue.list_candidates()
    with pytest.raises(ValueError, match="reason_code"):
        s.queue.decide(rows[0]["id"], "reject")
    with pytest.raises(ValueError, match="unknown reason_code"):
        s.queue.decide(rows[0]["id"], "reject", "bad_vibes")
    with pytest.raises(ValueError, match="decision must be"):
        s.queue.decide(rows[0]["id"], "maybe")
    s.queue.decide(rows[1]["id"], "reject", "off_topic")
    with pytest.raises(Conflict, match="already rejected"):
        s.queue.bulk_reject([rows[2]["id"], rows[1]["id"]], "duplicate")
    assert s.store.get("candidates", rows[2]["id"])["status"] == "pending"
    assert s.queue.bulk_reject([rows[2]["id"], rows[3]["id"]], "duplicate", actor="b") == 2
    assert s.store.count("reviews") == 3


def test_challenges_and_applications(batched):
    s = batched
    need = s.store.find("needs", ref="T-N01")
    with pytest.raises(ValueError, match="not a published challenge"):
        s.challenges.apply_challenge(need["id"], "某大学", "团队", "方案")
    s.challenges.publish_challenge(need["id"], "齿面寿命提升30%", "台架试验报告", "2027-06-30", 200, actor="admin")
    rows, total = s.challenges.list_challenges()
    assert total == 2 and {r["ref"] for r in rows} == {"T-N01", "T-N03"}
    result = s.store.find("results", ref="T-R01")
    app = s.challenges.apply_challenge(need["id"], "测试工业大学", "表面工程课题组", "激光淬火方案", result["id"])
    assert app["status"] == "submitted"
    apps = s.challenges.list_applications(need["id"])
    assert [a["org"] for a in apps] == ["测试工业大学"]
    with pytest.raises(Conflict, match="applied to this challenge already"):  # one application per organisation
        s.challenges.apply_challenge(need["id"], "测试工业大学", "", "又一个方案")
    mine = s.challenges.applications_of(app["org_id"])
    assert [(a["need_id"], a["challenge_title"], a["status"]) for a in mine] == [
        (need["id"], need["title"], "submitted")]
    s.challenges.review_application(app["id"], "declined")
    assert s.challenges.apply_challenge(need["id"], "测试工业大学", "", "改进后的方案")["status"] == "submitted"
    assert s.catalogue.get_listing("needs", need["id"])["reward"] == 200


def test_a_decision_can_be_taken_back_until_the_pairing_moves_on(batched):
    """Undo: a rejection or a fresh confirmation goes back to pending (pairing removed, need open again, history
    kept); the decision that stands is shown with reason, note, who and when; a pairing that moved on is dropped
    in the pipeline instead."""
    s = batched
    need_id = s.store.find("needs", ref="T-N01")["id"]
    first, second = s.queue.list_candidates(need_id=need_id)[0][:2]
    with pytest.raises(Conflict, match="no decision to take back"):
        s.queue.undo(first["id"])
    s.queue.decide(first["id"], "reject", "off_topic", note="方向不符", actor="broker-1")
    shown = s.queue.get_candidate(first["id"])["review"]
    assert (shown["decision"], shown["reason_code"], shown["note"], shown["actor"]) == \
        ("reject", "off_topic", "方向不符", "broker-1") and shown["created_at"]
    assert s.queue.undo(first["id"], actor="broker-1")["status"] == "pending"
    assert s.queue.get_candidate(first["id"])["review"] is None
    s.queue.decide(first["id"], "confirm", actor="broker-1")  # decided again after the undo
    assert s.catalogue.get_listing("needs", need_id)["status"] == "matched" and s.pipeline.list_pairings()[1] == 1
    s.queue.undo(first["id"], actor="broker-1")
    assert s.pipeline.list_pairings()[1] == 0 and s.catalogue.get_listing("needs", need_id)["status"] == "open"
    assert [r["decision"] for r in s.queue.list_reviews(first["id"])[0]] == ["undo", "confirm", "undo", "reject"]
    s.queue.decide(first["id"], "confirm")
    s.queue.decide(second["id"], "confirm")
    s.queue.undo(first["id"])  # the need keeps its other pairing, so it stays matched
    assert s.catalogue.get_listing("needs", need_id)["status"] == "matched"
    (pairing,), _ = s.pipeline.list_pairings()
    s.pipeline.move_pairing(pairing["id"], "contacted")
    with pytest.raises(Conflict, match="moved on to 'contacted'"):
        s.queue.undo(second["id"])


def test_a_pairing_gets_a_next_action_and_the_pipeline_lists_what_is_due(batched):
    s = batched
    cands = s.queue.list_candidates(limit=3)[0]
    for c in cands[:2]:
        s.queue.decide(c["id"], "confirm")
    first, second = sorted(p["id"] for p in s.pipeline.list_pairings()[0])
    with pytest.raises(ValueError, match="needs its date"):
        s.pipeline.plan_pairing(first, "约企业面谈", None)
    with pytest.raises(ValueError, match="next_action_at"):
        s.pipeline.plan_pairing(first, "约企业面谈", "下周")
    planned = s.pipeline.plan_pairing(first, "约企业技术总监面谈", "2026-12-01", actor="broker-1")
    assert (planned["next_action"], planned["next_action_at"]) == ("约企业技术总监面谈", "2026-12-01")
    assert planned["history"][-1]["action"] == "plan"
    s.pipeline.plan_pairing(second, "寄送样品", "2027-01-15")
    assert [p["id"] for p in s.pipeline.due_pairings(on="2026-12-31")] == [first]
    assert [p["id"] for p in s.pipeline.due_pairings(on="2027-02-01")] == [first, second]
    s.pipeline.move_pairing(second, "dropped")
    assert [p["id"] for p in s.pipeline.due_pairings(on="2027-02-01")] == [first]  # a dropped pairing is not due
    with pytest.raises(Conflict, match="nothing is due"):
        s.pipeline.plan_pairing(second, "再联系", "2027-03-01")
    cleared = s.pipeline.plan_pairing(first, "", None)
    assert cleared["next_action"] is None and not s.pipeline.due_pairings(on="2030-01-01")
