"""Duplicate and near-duplicate listings: found on post, import and through the API; a file imported twice is
flagged (and skipped on request); a batch run never proposes both copies."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from matcher.catalogue.duplicates import among, judge, normalise_title, title_similarity

from .conftest import FIXTURES

GEAR = {"title": "齿轮齿面激光淬火强化工艺", "org": "山城理工大学",
        "abstract": "采用光纤激光扫描淬火替代整体渗碳淬火，硬化层深度0.8～1.2毫米，齿面硬度HRC58以上，淬火变形小于0.02毫米。"}


def test_titles_compare_without_the_notes_a_relisting_adds():
    assert normalise_title("齿轮齿面激光淬火强化工艺（2026年更新）") == normalise_title("齿轮 齿面激光淬火强化工艺")
    assert title_similarity("低盐榨菜腌制（再次征集）", "低盐榨菜腌制") == 1.0
    assert title_similarity("齿轮激光淬火", "锂电池回收") < 0.3 and title_similarity("", "x") == 0.0
    same_org, other_org = {"id": 1, "title": "齿轮激光淬火", "org_id": 7}, {"id": 2, "title": "齿轮激光淬火", "org_id": 8}
    assert judge(same_org, {**same_org, "id": 3}, 0.95) is not None
    assert judge(same_org, other_org, 0.99) is None  # two organisations' listings are two listings
    assert judge(same_org, {"id": 4, "title": "完全不同的题目", "org_id": None}, 0.95) is None
    # one firm's several needs under one company blurb: near-identical texts, different titles
    assert judge(same_org, {"id": 4, "title": "完全不同的题目", "org_id": None}, 0.99) is None
    assert judge(same_org, {"id": 4, "title": "齿轮激光淬火工艺", "org_id": None}, 0.99) is not None
    # a series is not a relisting: numbers in both titles that differ
    variety = {"id": 5, "title": "冬小麦新品种静麦4号", "org_id": None}
    assert judge(variety, {"id": 6, "title": "冬小麦新品种静麦5号", "org_id": None}, 0.995) is None
    assert judge(variety, {"id": 6, "title": "冬小麦新品种静麦4号（2026年更新）", "org_id": None}, 0.95) is not None


def test_a_relisting_is_found_on_post_and_a_file_imported_twice_is_flagged(fresh_service):
    s = fresh_service
    s.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    first = s.catalogue.add_result(GEAR)
    relisted = {**GEAR, "title": GEAR["title"] + "（2026年更新）", "abstract": GEAR["abstract"] + "本次更新了试验数据。"}
    found = s.catalogue.draft_duplicates("results", [relisted, {**GEAR, "org": "另一所大学"}])
    assert list(found) == [0] and found[0]["id"] == first["id"] and found[0]["same_organisation"]
    second = s.catalogue.add_result(relisted)
    assert [d["id"] for d in s.catalogue.duplicates("results", second["id"])] == [first["id"]]
    assert [d["id"] for d in s.catalogue.duplicates("results", first["id"])] == [second["id"]]
    unrelated = s.catalogue.list_listings("results", text="电池")[0][0]
    assert s.catalogue.duplicates("results", unrelated["id"]) == []
    data = (FIXTURES / "mini_needs.jsonl").read_bytes()
    once = s.importer.import_bytes(data, "needs", "jsonl")
    assert once.duplicates == [] and once.created == 5
    no_refs = "\n".join(json.dumps({k: v for k, v in json.loads(line).items() if k != "ref"}, ensure_ascii=False)
                        for line in data.decode().splitlines()).encode()
    twice = s.importer.import_bytes(no_refs, "needs", "jsonl")  # without refs: every row would be a new need
    assert [d["row"] for d in twice.duplicates] == [1, 2, 3, 4, 5] and twice.created == 5
    assert all("duplicate_of" in d and "copy of need" in d["reason"] for d in twice.duplicates)
    skipped = s.importer.import_bytes(no_refs + b"\n" + no_refs.splitlines()[0], "needs", "jsonl", skip_duplicates=True)
    assert skipped.skipped == 6 and skipped.accepted == 0 and skipped.created == 0
    assert s.store.count("needs") == 10
    again = s.importer.import_bytes(data, "needs", "jsonl")  # with refs: updates of the same needs, not copies of them …
    refs = {s.catalogue.find_by_ref("needs", json.loads(line)["ref"])["id"] for line in data.decode().splitlines()}
    assert again.updated == 5 and len(again.duplicates) == 5  # … but the ref-less copies imported above are
    assert not {d["duplicate_of"] for d in again.duplicates} & refs
    assert s.store.count("needs") == 10


def test_rows_of_one_file_that_repeat_each_other(fresh_service):
    s = fresh_service
    rows = [GEAR, {**GEAR, "title": GEAR["title"] + "（可定制）"}, {"title": "锂电池回收", "abstract": "湿法回收锂"}]
    found = s.catalogue.draft_duplicates("results", rows)
    assert found == {1: {"row": 0, "title": GEAR["title"]}}
    vectors = s.indexes.live.encode("results", [{**r, "org_id": None} for r in rows])
    assert among([{**r, "org_id": None} for r in rows], vectors) == {1: 0}


def test_a_batch_run_never_proposes_both_copies(fresh_service):
    """A need posted twice is scored once; a result listed twice is proposed once per need."""
    s = fresh_service
    s.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    s.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    gear_need = s.catalogue.find_by_ref("needs", "T-N01")
    org = s.store.get("organisations", gear_need["org_id"])["name"]
    copy_need = s.catalogue.add_need({**{k: gear_need[k] for k in ("title", "description", "industry", "district")},
                                      "org": org})
    best = s.matching.match_need(gear_need["id"], top_k=1)[0].item
    best_org = s.store.get("organisations", best["org_id"])["name"] if best.get("org_id") else None
    copy_result = s.catalogue.add_result({"title": best["title"] + "（再次发布）", "abstract": best["abstract"], "org": best_org,
                                          "industry": best["industry"], "trl": best["trl"]})
    ranked = s.matching.match_need(gear_need["id"], top_k=5)
    assert {best["id"], copy_result["id"]} <= {m.id for m in ranked}  # plain matching shows both …
    kept = s.matching.without_copies(ranked)
    assert copy_result["id"] not in {m.id for m in kept} and [m.rank for m in kept] == list(range(1, len(kept) + 1))
    assert s.catalogue.copies("needs", s.store.ids("needs")) == {copy_need["id"]: gear_need["id"]}
    s.batches.run_now(top_k=5)
    rows = s.queue.list_candidates(limit=500)[0]
    assert copy_need["id"] not in {r["need_id"] for r in rows}  # … a batch run proposes one copy
    gear = [r for r in rows if r["need_id"] == gear_need["id"]]
    assert best["id"] in {r["result_id"] for r in gear} and copy_result["id"] not in {r["result_id"] for r in gear}
    assert len(gear) == 5


def test_the_api_reports_duplicates_on_create_and_per_listing(fresh_service):
    from api.app import create_app
    from matcher.access import create_key

    s = fresh_service
    s.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    firm = create_key(s.store, "firm", "测试汽车部件有限公司")[0]  # owns the confidential T-N04
    other = create_key(s.store, "firm", "另一家企业")[0]
    secret = s.catalogue.find_by_ref("needs", "T-N04")
    body = {"title": secret["title"], "description": secret["description"], "industry": secret["industry"]}
    with TestClient(create_app(s.settings, service=s)) as client:
        made = client.post("/needs", json=body, headers={"Authorization": f"Bearer {firm}"})
        assert made.status_code == 201, made.text
        assert [d["id"] for d in made.json()["possible_duplicates"]] == [secret["id"]]
        new_id = made.json()["id"]
        got = client.get(f"/needs/{new_id}/duplicates", headers={"Authorization": f"Bearer {firm}"})
        assert got.status_code == 200 and got.json()["items"][0]["same_organisation"] is True
        # another firm may read the public copy but not learn of the confidential original through it
        assert client.get(f"/needs/{new_id}/duplicates", headers={"Authorization": f"Bearer {other}"}).json() == \
            {"items": []}
        assert client.get(f"/needs/{secret['id']}/duplicates").status_code in (403, 404)
        assert client.get("/results/999999/duplicates").status_code == 404
        assert client.get(f"/needs/{new_id}/duplicates?limit=0").status_code == 422
        broker = {"Authorization": f"Bearer {create_key(s.store, 'broker', '测试技术转移中心')[0]}"}
        merge = {"duplicate_id": new_id}
        assert client.post(f"/needs/{secret['id']}/merge", json=merge,
                           headers={"Authorization": f"Bearer {firm}"}).status_code == 403
        done = client.post(f"/needs/{secret['id']}/merge", json=merge, headers=broker)
        assert done.status_code == 200 and done.json()["kept"] == secret["id"], done.text
        assert client.get(f"/needs/{new_id}", headers=broker).status_code == 404
        assert client.post(f"/needs/{secret['id']}/merge", json={"duplicate_id": secret["id"]},
                           headers=broker).status_code == 422


def _catalogue_with_a_copy(s):
    """The mini catalogue, and need T-N01 posted a second time by its own firm: (the first, the copy)."""
    s.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    s.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    keep = s.catalogue.find_by_ref("needs", "T-N01")
    org = s.store.get("organisations", keep["org_id"])["name"]
    return keep, s.catalogue.add_need({**{k: keep[k] for k in ("title", "description", "industry", "district")}, "org": org})


def test_merging_a_copy_keeps_its_decisions_pairings_and_history(fresh_service):
    """The copy's candidates, decisions, reviews and pairing move to the listing kept; where both had a candidate
    for one result the kept one stays and takes the copy's decision and history; the copy leaves the catalogue
    and the indexes; the merge is audited."""
    from matcher.errors import Invalid

    s = fresh_service
    keep, copy = _catalogue_with_a_copy(s)
    s.batches.run_now(top_k=3)  # scores the first copy only; give the copy candidates of its own, as before the check

    matches = s.matching.match_need(copy["id"], top_k=4)
    s.batches.store_candidates(1, copy["id"], matches, "hybrid")
    mine = {c["result_id"]: c for c in s.queue.list_candidates(need_id=keep["id"], limit=50)[0]}
    theirs = s.queue.list_candidates(need_id=copy["id"], limit=50)[0]
    shared = next(c for c in theirs if c["result_id"] in mine)
    only = next(c for c in theirs if c["result_id"] not in mine)
    s.queue.decide(shared["id"], "reject", "off_topic", note="看过了", actor="broker-1")
    s.queue.decide(only["id"], "confirm", actor="broker-1")
    with pytest.raises(Invalid, match="into itself"):
        s.catalogue.merge_listings("needs", keep["id"], keep["id"])
    moved = s.catalogue.merge_listings("needs", keep["id"], copy["id"], actor="broker-1")
    assert moved["kept"] == keep["id"] and moved["candidates"] >= 1 and moved["reviews"] == 1
    assert s.store.find("needs", id=copy["id"]) is None and copy["id"] not in s.indexes.live.sides["needs"].dense.ids()
    after = {c["result_id"]: c for c in s.queue.list_candidates(status=None, need_id=keep["id"], limit=50)[0]}
    assert after[shared["result_id"]]["status"] == "rejected"  # the copy's decision on the same result
    assert s.queue.get_candidate(after[shared["result_id"]]["id"])["review"]["note"] == "看过了"
    assert after[only["result_id"]]["status"] == "confirmed"
    (pairing,), _ = s.pipeline.list_pairings()
    assert pairing["need_id"] == keep["id"] and s.catalogue.get_listing("needs", keep["id"])["status"] == "matched"
    assert s.store.find("audit_log", action="merge") is not None


def test_a_merge_keeps_the_pairing_further_along_carries_a_challenge_and_refuses_two_organisations(fresh_service):
    """Both listings paired with one result: the pairing further along survives on the kept candidate, which is
    then confirmed, and the need's status follows (a signed contract: solved); a challenge published on the copy
    carries over; two organisations' needs are refused."""
    from matcher.errors import Invalid

    s = fresh_service
    keep, copy = _catalogue_with_a_copy(s)
    top = s.matching.match_need(keep["id"], top_k=1)
    s.batches.store_candidates(None, keep["id"], top, "hybrid")
    s.batches.store_candidates(None, copy["id"], s.matching.match_need(copy["id"], top_k=1), "hybrid")
    mine = s.queue.list_candidates(need_id=keep["id"])[0][0]
    theirs = s.queue.list_candidates(need_id=copy["id"])[0][0]
    assert mine["result_id"] == theirs["result_id"]
    s.queue.decide(mine["id"], "confirm")
    s.pipeline.move_pairing(s.store.find("pairings", candidate_id=mine["id"])["id"], "dropped")
    s.queue.decide(theirs["id"], "confirm")
    signed = s.store.find("pairings", candidate_id=theirs["id"])["id"]
    for stage in ("contacted", "negotiating"):
        s.pipeline.move_pairing(signed, stage)
    s.pipeline.move_pairing(signed, "contract_signed", contract_value=80)
    s.challenges.publish_challenge(copy["id"], "寿命提升30%", "台架试验报告", "2027-06-30", 100)
    stranger = s.catalogue.add_need({"title": keep["title"], "description": keep["description"], "industry": keep["industry"],
                                     "org": "另一家齿轮公司"})
    with pytest.raises(Invalid, match="different organisations"):
        s.catalogue.merge_listings("needs", keep["id"], stranger["id"])
    s.catalogue.merge_listings("needs", keep["id"], copy["id"])
    (left,) = s.store.rows("pairings", "need_id = ?", [keep["id"]])
    assert (left["id"], left["stage"], left["contract_value"], left["candidate_id"]) == (
        signed, "contract_signed", 80, mine["id"])
    assert s.store.get("candidates", mine["id"])["status"] == "confirmed"
    kept = s.catalogue.get_listing("needs", keep["id"])
    assert kept["status"] == "solved" and kept["is_challenge"] and kept["challenge_goal"] == "寿命提升30%"
