"""Broker review, the pairing pipeline, challenges and the operators' figures on a real catalogue."""

from __future__ import annotations

import pytest

from matcher import review
from matcher.errors import Conflict
from matcher.ingest.importer import import_file
from matcher.review import batches
from matcher.review.figures import figures

from .conftest import FIXTURES


@pytest.fixture
def batched(fresh_service):
    import_file(fresh_service, FIXTURES / "mini_results.jsonl", "results")
    import_file(fresh_service, FIXTURES / "mini_needs.jsonl", "needs")
    batches.run_now(fresh_service, top_k=3)
    return fresh_service


def test_queue_lists_ranked_candidates_with_filters(batched):
    rows, total = review.list_candidates(batched)
    assert total == 15 and len(rows) == 15
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert {"title", "org", "confidentiality"} <= set(rows[0]["need"]) and "trl" in rows[0]["result"]
    food, n = review.list_candidates(batched, industry=["food_agri"])
    assert n == 3 and all(r["need"]["industry"] == "food_agri" for r in food)
    assert review.list_candidates(batched, min_score=10.0)[1] == 0
    assert all(0 <= r["confidence"] <= 1 for r in rows)
    sure, n_sure = review.list_candidates(batched, min_confidence=0.3, sort="-confidence")
    assert n_sure == sum(r["confidence"] >= 0.3 for r in rows) and all(r["confidence"] >= 0.3 for r in sure)
    assert [r["confidence"] for r in sure] == sorted((r["confidence"] for r in sure), reverse=True)
    with pytest.raises(ValueError, match="cannot sort"):
        review.list_candidates(batched, sort="title")


def test_confirm_opens_a_pairing_that_moves_to_a_contract(batched):
    s = batched
    cand = review.list_candidates(s, need_id=s.store.find("needs", ref="T-N01")["id"])[0][0]
    review.decide(s, cand["id"], "confirm", note="双方有意向", actor="broker-1")
    assert s.get_listing("needs", cand["need_id"])["status"] == "matched"
    assert cand["id"] not in [r["id"] for r in review.list_candidates(s)[0]]
    with pytest.raises(Conflict, match="already confirmed"):
        review.decide(s, cand["id"], "reject", "off_topic")
    (pairing,), _ = review.list_pairings(s)
    assert pairing["stage"] == "confirmed"
    with pytest.raises(Conflict, match="can move to contacted, dropped"):
        review.move_pairing(s, pairing["id"], "closed")
    review.move_pairing(s, pairing["id"], "contacted", actor="broker-1")
    review.move_pairing(s, pairing["id"], "negotiating", actor="broker-1", note="报价中")
    with pytest.raises(ValueError, match="contract_value"):
        review.move_pairing(s, pairing["id"], "contract_signed")
    done = review.move_pairing(s, pairing["id"], "contract_signed", actor="broker-1", contract_value=120)
    assert done["stage"] == "contract_signed" and done["contract_value"] == 120 and done["signed_at"]
    assert [h["detail"]["to"] for h in done["history"] if h["action"] == "move"] == [
        "contacted", "negotiating", "contract_signed"]
    assert all(h["actor"] == "broker-1" and h["at"] for h in done["history"] if h["action"] == "move")
    assert s.get_listing("needs", cand["need_id"])["status"] == "solved"
    f = figures(s)
    assert f["totals"]["needs_solved"] == 1 and f["totals"]["contracts_signed"] == 1
    assert f["totals"]["contract_value"] == 120 and f["time_to_first_match"]["n"] == 1
    assert f["last_batch"]["status"] == "done"
    assert sum(r["needs_posted"] for r in f["by_district"]) == 5
    assert {r["industry"] for r in f["by_cluster"]} >= {"smart_equipment", "food_agri"}


def test_reject_needs_a_known_reason_and_bulk_reject_is_all_or_nothing(batched):
    s = batched
    rows, _ = review.list_candidates(s)
    with pytest.raises(ValueError, match="reason_code"):
        review.decide(s, rows[0]["id"], "reject")
    with pytest.raises(ValueError, match="unknown reason_code"):
        review.decide(s, rows[0]["id"], "reject", "bad_vibes")
    with pytest.raises(ValueError, match="decision must be"):
        review.decide(s, rows[0]["id"], "maybe")
    review.decide(s, rows[1]["id"], "reject", "off_topic")
    with pytest.raises(Conflict, match="already rejected"):
        review.bulk_reject(s, [rows[2]["id"], rows[1]["id"]], "duplicate")
    assert s.store.get("candidates", rows[2]["id"])["status"] == "pending"
    assert review.bulk_reject(s, [rows[2]["id"], rows[3]["id"]], "duplicate", actor="b") == 2
    assert s.store.count("reviews") == 3


def test_challenges_and_applications(batched):
    s = batched
    need = s.store.find("needs", ref="T-N01")
    with pytest.raises(ValueError, match="not a published challenge"):
        review.apply_challenge(s, need["id"], "某大学", "团队", "方案")
    review.publish_challenge(s, need["id"], "齿面寿命提升30%", "台架试验报告", "2027-06-30", 200, actor="admin")
    rows, total = review.list_challenges(s)
    assert total == 2 and {r["ref"] for r in rows} == {"T-N01", "T-N03"}
    result = s.store.find("results", ref="T-R01")
    app = review.apply_challenge(s, need["id"], "测试工业大学", "表面工程课题组", "激光淬火方案", result["id"])
    assert app["status"] == "submitted"
    apps = review.list_applications(s, need["id"])
    assert [a["org"] for a in apps] == ["测试工业大学"]
    with pytest.raises(Conflict, match="applied to this challenge already"):  # one application per organisation
        review.apply_challenge(s, need["id"], "测试工业大学", "", "又一个方案")
    mine = review.applications_of(s, app["org_id"])
    assert [(a["need_id"], a["challenge_title"], a["status"]) for a in mine] == [
        (need["id"], need["title"], "submitted")]
    review.review_application(s, app["id"], "declined")
    assert review.apply_challenge(s, need["id"], "测试工业大学", "", "改进后的方案")["status"] == "submitted"
    assert s.get_listing("needs", need["id"])["reward"] == 200


def test_a_decision_can_be_taken_back_until_the_pairing_moves_on(batched):
    """Undo: a rejection or a fresh confirmation goes back to pending (pairing removed, need open again, history
    kept); the decision that stands is shown with reason, note, who and when; a pairing that moved on is dropped
    in the pipeline instead."""
    s = batched
    need_id = s.store.find("needs", ref="T-N01")["id"]
    first, second = review.list_candidates(s, need_id=need_id)[0][:2]
    with pytest.raises(Conflict, match="no decision to take back"):
        review.undo(s, first["id"])
    review.decide(s, first["id"], "reject", "off_topic", note="方向不符", actor="broker-1")
    shown = review.get_candidate(s, first["id"])["review"]
    assert (shown["decision"], shown["reason_code"], shown["note"], shown["actor"]) == \
        ("reject", "off_topic", "方向不符", "broker-1") and shown["created_at"]
    assert review.undo(s, first["id"], actor="broker-1")["status"] == "pending"
    assert review.get_candidate(s, first["id"])["review"] is None
    review.decide(s, first["id"], "confirm", actor="broker-1")  # decided again after the undo
    assert s.get_listing("needs", need_id)["status"] == "matched" and review.list_pairings(s)[1] == 1
    review.undo(s, first["id"], actor="broker-1")
    assert review.list_pairings(s)[1] == 0 and s.get_listing("needs", need_id)["status"] == "open"
    assert [r["decision"] for r in review.list_reviews(s, first["id"])[0]] == ["undo", "confirm", "undo", "reject"]
    review.decide(s, first["id"], "confirm")
    review.decide(s, second["id"], "confirm")
    review.undo(s, first["id"])  # the need keeps its other pairing, so it stays matched
    assert s.get_listing("needs", need_id)["status"] == "matched"
    (pairing,), _ = review.list_pairings(s)
    review.move_pairing(s, pairing["id"], "contacted")
    with pytest.raises(Conflict, match="moved on to 'contacted'"):
        review.undo(s, second["id"])


def test_a_pairing_gets_a_next_action_and_the_pipeline_lists_what_is_due(batched):
    s = batched
    cands = review.list_candidates(s, limit=3)[0]
    for c in cands[:2]:
        review.decide(s, c["id"], "confirm")
    first, second = sorted(p["id"] for p in review.list_pairings(s)[0])
    with pytest.raises(ValueError, match="needs its date"):
        review.plan_pairing(s, first, "约企业面谈", None)
    with pytest.raises(ValueError, match="next_action_at"):
        review.plan_pairing(s, first, "约企业面谈", "下周")
    planned = review.plan_pairing(s, first, "约企业技术总监面谈", "2026-12-01", actor="broker-1")
    assert (planned["next_action"], planned["next_action_at"]) == ("约企业技术总监面谈", "2026-12-01")
    assert planned["history"][-1]["action"] == "plan"
    review.plan_pairing(s, second, "寄送样品", "2027-01-15")
    assert [p["id"] for p in review.due_pairings(s, on="2026-12-31")] == [first]
    assert [p["id"] for p in review.due_pairings(s, on="2027-02-01")] == [first, second]
    review.move_pairing(s, second, "dropped")
    assert [p["id"] for p in review.due_pairings(s, on="2027-02-01")] == [first]  # a dropped pairing is not due
    with pytest.raises(Conflict, match="nothing is due"):
        review.plan_pairing(s, second, "再联系", "2027-03-01")
    cleared = review.plan_pairing(s, first, "", None)
    assert cleared["next_action"] is None and not review.due_pairings(s, on="2030-01-01")
