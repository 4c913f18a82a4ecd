"""The store contract: one suite, run against both backends (a SQLite file and a real PostgreSQL database)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pytest

from matcher.errors import Invalid, NotFound
from matcher.settings import Database
from matcher.store import MIGRATIONS, TABLES, Not, Outsider, open_store


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def _org(store, name="重庆大学", kind="university"):
    return store.org_id(name, kind)


def _need(store, org, **extra):
    row = {"title": "数控机床主轴热误差补偿", "description": "主轴温升导致加工精度下降", "org_id": org,
           "industry": "smart_equipment", "district": "shapingba", "status": "open", "confidentiality": "public",
           "coop_modes": ["license", "joint_rd"], "keywords": ["热误差", "补偿"], "budget": 50.0,
           "wanted_trl_min": 4, "wanted_trl_max": 8, "is_challenge": False, **extra}
    return store.insert("needs", row)


def _result(store, org, **extra):
    row = {"title": "主轴热误差实时补偿系统", "abstract": "基于温度场建模的补偿", "org_id": org, "trl": 6,
           "industry": "smart_equipment", "district": "shapingba", "status": "listed",
           "transfer_modes": ["license"], "keywords": ["热误差"], **extra}
    return store.insert("results", row)


def test_migrations_reach_the_latest_version_and_are_idempotent(store, store_url):
    assert store.version == len(MIGRATIONS)
    # every table the migrations create is one a migration to PostgreSQL copies (and checks)
    assert set(TABLES) <= set(store.tables()) and set(store.tables()) <= {*TABLES, "meta", "users", "changes", "locks"}
    first = store.catalogue_id
    assert len(first) == 32
    again = open_store(store_url)  # a second process opening the same database migrates nothing
    try:
        assert again.version == len(MIGRATIONS)
        assert again.catalogue_id == first
    finally:
        again.close()


def test_rows_round_trip_with_json_and_types(store):
    org = _org(store)
    need = _need(store, org)
    row = store.get("needs", need)
    assert row["coop_modes"] == ["license", "joint_rd"] and row["keywords"] == ["热误差", "补偿"]
    assert row["budget"] == 50.0 and row["is_challenge"] == 0 and row["org_id"] == org
    assert row["created_at"] and row["updated_at"]
    store.update("needs", need, {"title": "主轴热误差补偿（修订）", "keywords": []})
    row = store.get("needs", need)
    assert row["title"] == "主轴热误差补偿（修订）" and row["keywords"] == []
    assert store.find("needs", title="主轴热误差补偿（修订）")["id"] == need
    assert store.find("needs", title="无此需求") is None
    assert store.count("needs") == 1 and store.ids("needs") == [need]
    assert set(store.get_many("needs", [need, 999_999])) == {need}
    assert "coop_modes" in store.columns("needs")


def test_missing_rows_are_not_found(store):
    with pytest.raises(NotFound):
        store.get("needs", 12345)
    with pytest.raises(NotFound):
        store.get("needs", 2**70)  # beyond 64 bits
    with pytest.raises(NotFound):
        store.update("needs", 12345, {"title": "x"})
    with pytest.raises(NotFound):
        store.delete("needs", 12345)


def test_a_failed_transaction_changes_nothing_and_nested_blocks_join(store):
    org = _org(store)
    before = (store.count("needs"), store.last_change())
    with pytest.raises(RuntimeError), store.transaction():
        _need(store, org)
        with store.transaction():
            _need(store, org, title="第二条")
        assert store.count("needs") == before[0] + 2  # the writer sees its own writes
        raise RuntimeError("abort")
    assert (store.count("needs"), store.last_change()) == before
    assert not store.in_transaction()


def test_uncommitted_writes_are_invisible_to_other_threads(store):
    org = _org(store)
    seen: list[int] = []
    with store.transaction():
        _need(store, org)
        reader = threading.Thread(target=lambda: seen.append(store.count("needs")))
        reader.start()
        reader.join()
    assert seen == [0] and store.count("needs") == 1


def test_every_listing_write_is_in_the_change_log_in_order(store):
    org = _org(store)
    start = store.last_change()
    need = _need(store, org)
    result = _result(store, org)
    store.update("needs", need, {"title": "改"})
    store.delete_listing("results", result)
    model_seq = store.log_change("models", 0, "calibration")
    log = store.changes_since(start)
    assert [(c["side"], c["item_id"], c["op"]) for c in log] == [
        ("needs", need, "upsert"), ("results", result, "upsert"), ("needs", need, "upsert"),
        ("results", result, "delete"), ("models", 0, "calibration")]
    seqs = [c["seq"] for c in log]
    assert seqs == sorted(seqs) and seqs[-1] == model_seq == store.last_change()
    assert all(dt.datetime.fromisoformat(c["at"].replace("Z", "+00:00")).utcoffset() == dt.timedelta(0) for c in log)
    assert store.changes_since(start, limit=2) == log[:2]


def test_deleting_a_listing_takes_its_candidates_reviews_and_pairings(store):
    org, other = _org(store), _org(store, "长安汽车", "firm")
    need, result = _need(store, other), _result(store, org)
    cand = store.insert("candidates", {"need_id": need, "result_id": result, "rank": 1, "score": 0.8,
                                       "confidence": 0.6, "method": "hybrid", "components": {"dense": 0.8},
                                       "explanation": {"terms": ["热误差"]}, "status": "confirmed"})
    store.insert("reviews", {"candidate_id": cand, "decision": "confirmed", "actor": "broker"})
    store.insert("pairings", {"candidate_id": cand, "need_id": need, "result_id": result, "stage": "contacted"})
    store.delete_listing("needs", need)
    assert store.count("candidates") == store.count("reviews") == store.count("pairings") == 0
    with pytest.raises(Invalid):
        store.delete_listing("orgs", 1)


def test_listing_filters_mean_the_same_on_both_backends(store):
    org, firm = _org(store), _org(store, "长安汽车", "firm")
    a = _need(store, firm)
    b = _need(store, firm, title="Battery PACK thermal runaway", coop_modes=["purchase"], district="yubei",
              confidentiality="brokers", wanted_trl_min=1, wanted_trl_max=3, description="电池包热失控预警",
              keywords=["电池"])
    _result(store, org)

    def ids(filters=None, text=None, outsider=None):
        page, total = store.listings("needs", filters, text, sort="id", outsider=outsider, limit=99)
        found = [r["id"] for r in page]
        assert total == len(found)
        if text is None:  # the matcher's hard filters: the same listings
            assert store.listing_ids("needs", filters) == found
        return found

    assert ids({"modes": ["joint_rd"]}) == [a]
    assert ids({"modes": ["purchase", "license"]}) == [a, b]
    assert ids({"district": ["yubei"]}) == [b]
    assert ids({"trl_min": 5}) == [a]
    assert ids(text="battery pack") == [b]  # case-insensitive on both
    assert ids(text="热误差") == [a]
    assert ids({"visible_to": Outsider(None)}) == [a]
    assert ids({"visible_to": Outsider(firm)}) == [a, b]
    # a confidential need with no organisation is nobody's own: not the anonymous caller's, not any firm's
    c = _need(store, None, title="无主保密需求", confidentiality="brokers", description="QZX-9913 钯铑", budget=999)
    assert ids({"visible_to": Outsider(None)}) == [a]
    assert ids({"visible_to": Outsider(firm)}) == [a, b]
    assert ids(text="QZX-9913", outsider=Outsider(None)) == []
    assert ids(text="QZX-9913", outsider=Outsider(firm)) == []
    assert ids(text="QZX-9913") == [c]


def test_review_pipeline_and_figures_queries(store):
    org, firm = _org(store), _org(store, "长安汽车", "firm")
    need, result = _need(store, firm), _result(store, org)
    _need(store, firm, title="另一个需求", status="solved", district="yubei")
    cand = store.insert("candidates", {"need_id": need, "result_id": result, "rank": 1, "score": 0.8,
                                       "confidence": None, "method": "hybrid", "status": "pending"})
    rows, total = store.candidates({"status": ["pending"], "district": ["shapingba"]}, "confidence", True, 10, 0)
    assert total == 1 and rows[0]["id"] == cand and rows[0]["need_org"] == "长安汽车"
    assert rows[0]["result_org"] == "重庆大学"
    store.insert("pairings", {"candidate_id": cand, "need_id": need, "result_id": result,
                              "stage": "contract_signed", "contract_value": 12.345})
    pairs, total = store.pairings(["contract_signed"], 10, 0)
    assert total == 1 and pairs[0]["need_title"] == "数控机床主轴热误差补偿"
    (overall,) = store.need_figures(None)
    assert overall["needs_posted"] == 2 and overall["needs_open"] == 1 and overall["needs_solved"] == 1
    assert overall["confirmed_pairings"] == 1 and overall["contracts_signed"] == 1
    assert overall["contract_value"] == 12.35
    by_district = {r["district"]: r["needs_posted"] for r in store.need_figures("district")}
    assert by_district == {"shapingba": 1, "yubei": 1}
    assert len(store.first_pairings()) == 1
    assert store.application_counts([need]) == {}
    assert set(store.keywords()) >= {"热误差", "补偿"}


def test_named_locks_are_shared_between_processes(store, store_url):
    other = open_store(store_url)  # another process on the same database
    assert store.try_lock("batch", "a", ttl=60)
    assert store.try_lock("batch", "a", ttl=60)  # renewing
    assert not other.try_lock("batch", "b", ttl=60)
    assert not store.try_lock("batch", "b", ttl=60)
    assert other.lock_owner("batch") == "a"
    other.release_lock("batch", "b")  # not its lock: nothing happens
    assert store.lock_owner("batch") == "a"
    store.release_lock("batch", "a")
    assert other.lock_owner("batch") is None
    assert other.try_lock("batch", "b", ttl=1) and store.lock_owner("batch") == "b"
    other.close()  # its process ends: the lock is free again (PostgreSQL: at once; SQLite: when its ttl ends)
    time.sleep(1.1)
    assert store.lock_owner("batch") is None
    assert store.try_lock("batch", "a", ttl=60)


def test_concurrent_writers_commit_in_change_log_order(store, store_url):
    """Followers read `seq > applied`: a smaller number must never commit after a larger one was visible."""
    org = _org(store)
    writers = [open_store(store_url) for _ in range(3)]
    stop = time.monotonic() + 3
    problems: list[str] = []

    def write(s, n):
        while time.monotonic() < stop:
            with s.transaction():
                _need(s, org, title=f"并发{n}")
                time.sleep(0.002)  # hold the transaction open a little
                _need(s, org, title=f"并发{n}b")

    baseline = store.last_change()  # taken before any writer starts (a loaded machine may start them first)

    def follow():
        applied = baseline
        seen: set[int] = {c["seq"] for c in store.changes_since(0, limit=1_000_000) if c["seq"] <= baseline}
        while time.monotonic() < stop + 0.5:
            for change in store.changes_since(0, limit=1_000_000):
                if change["seq"] not in seen and change["seq"] <= applied:
                    problems.append(f"seq {change['seq']} appeared after {applied} was applied")
                seen.add(change["seq"])
            applied = max(seen, default=applied)

    threads = [threading.Thread(target=write, args=(w, i)) for i, w in enumerate(writers)]
    threads.append(threading.Thread(target=follow))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close()
    assert not problems, problems[:3]
    assert store.count("needs") >= 6


def test_embedding_cache_shares_vectors_through_the_store(store_url, e5_encoder):
    from embeddings import CachedEncoder

    db = Database.parse(store_url)
    target = db.url if db.postgres else db.path.with_name("cache.db")
    first = CachedEncoder(e5_encoder, target)
    vectors = first.encode_documents(["主轴热误差补偿", "电池热失控预警"])
    second = CachedEncoder(e5_encoder, target)  # another process
    again = second.encode_documents(["电池热失控预警", "主轴热误差补偿"])
    assert second.misses == 0 and second.hits == 2
    assert np.allclose(again, vectors[::-1])


def test_two_processes_creating_one_organisation_get_the_same_row(store, store_url):
    other = open_store(store_url)
    got: list[int] = []
    barrier = threading.Barrier(2)

    def create(s):
        barrier.wait()
        got.extend(s.org_id(f"并发机构{i}", "firm") for i in range(20))

    threads = [threading.Thread(target=create, args=(s,)) for s in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert len(got) == 40 and store.count("organisations") == 20
    assert sorted(set(got)) == sorted(store.ids("organisations"))


def test_column_filters_and_sort_keys_mean_the_same_on_both_backends(store):
    """Outside the store, rows are asked for by column → value (a list: any of them; None: empty; Not: anything
    else) and sort keys ("-budget"); a name that is no column is refused, never pasted into SQL."""
    firm = _org(store, "长安汽车", "firm")
    a = _need(store, firm, budget=30.0)
    b = _need(store, firm, budget=None, status="matched")
    c = _need(store, None, budget=10.0, status="closed")
    assert store.ids("needs", {"status": "open"}) == [a]
    assert store.ids("needs", {"status": ["open", "closed"]}) == [a, c] == store.ids("needs", {"budget": Not(None)})
    assert store.ids("needs", {"status": []}) == [] and store.count("needs", {}) == 3
    assert store.ids("needs", {"org_id": None}) == [c] and store.ids("needs", {"budget": None}) == [b]
    assert store.ids("needs", {"status": Not("open"), "org_id": firm}) == [b]
    assert store.ids("needs", {"org_id": Not(firm)}) == [c]  # an empty value differs from every value
    assert store.ids("needs", {"status": Not(["open", "matched"])}) == [c] and store.ids("needs", {"id": Not([])}) \
        == [a, b, c]
    assert [r["id"] for r in store.rows("needs", order="-id")] == [c, b, a]
    assert [r["id"] for r in store.rows("needs", {"budget": Not(None)}, order="budget")] == [c, a]
    assert [r["id"] for r in store.rows("needs", order=("org_id", "-id"))] == [c, b, a]  # empty first going up
    assert [r["id"] for r in store.rows("needs", order=("-org_id", "id"), limit=2, offset=1)] == [b, c]
    with pytest.raises(Invalid):
        store.rows("needs", {"status = 'open' or 1": 1})
    with pytest.raises(TypeError):  # a sort key passed where SQL parameters go is refused, not ignored
        store.rows("needs", {"status": "open"}, "-id")


def test_text_filters_are_literal_and_sorting_puts_empty_values_alike(store):
    firm = _org(store, "长安汽车", "firm")
    a = _need(store, firm, title="良品率提升100%", budget=None)
    b = _need(store, firm, title="良品率提升100", budget=30.0)
    c = _need(store, firm, title="路径C:\\data_1", budget=10.0)

    def ids(text):
        return [r["id"] for r in store.listings("needs", None, text, sort="id")[0]]

    def by_budget(sort, outsider=None):
        return [r["id"] for r in store.listings("needs", sort=sort, outsider=outsider)[0]]

    assert ids("100%") == [a]  # % is a character, not a wildcard
    assert ids("data_1") == [c] and ids("data%1") == [] and ids("C:\\data") == [c]
    up, down = by_budget("budget"), by_budget("-budget")
    assert up == [a, c, b] and down == [b, c, a]
    # an ownerless confidential need's budget is hidden from every outsider: it sorts as empty, never first
    d = _need(store, None, title="无主保密需求", confidentiality="brokers", budget=999.0)
    for org in (None, firm):
        down = by_budget("-budget", Outsider(org))
        assert down == [b, c, a, d] or down == [b, c, d, a], (org, down)
    assert by_budget("-budget")[0] == d


def test_crossing_writers_neither_deadlock_nor_lose_a_check_then_write(store, store_url):
    """One writer at a time on both backends: transactions touching the same rows in opposite orders both commit,
    and a read-then-write inside a transaction is not overtaken by another process."""
    org = _org(store)
    x, y = _need(store, org), _need(store, org, title="第二个需求")
    other = open_store(store_url)
    errors: list[BaseException] = []
    started = threading.Event()

    def long_writer():
        try:
            with store.transaction():
                store.update("needs", x, {"status": "matched"})
                started.set()
                time.sleep(0.3)
                store.update("needs", y, {"status": "matched"})
        except BaseException as exc:  # pragma: no cover - the failure being tested
            errors.append(exc)

    def short_writer():
        started.wait(5)
        try:
            with other.transaction():
                if other.get("needs", y)["status"] == "open":  # check, then write
                    other.update("needs", y, {"status": "solved"})
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=long_writer), threading.Thread(target=short_writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.close()
    assert not errors, errors
    # the second writer waited for the first to commit, saw y no longer open, and left it alone
    assert store.get("needs", y)["status"] == "matched"


def test_rounds_alerts_and_deliveries_on_both_backends(store, store_url):
    org, other = _org(store), _org(store, "长安汽车", "firm")
    need, result = _need(store, other), _result(store, org)
    cand = store.insert("candidates", {"need_id": need, "result_id": result, "rank": 1, "score": 0.8,
                                       "confidence": 0.6, "method": "assignment", "status": "pending"})
    other_cand = store.insert("candidates", {"need_id": need, "result_id": _result(store, org), "rank": 2,
                                             "score": 0.5, "confidence": 0.4, "method": "hybrid", "status": "pending"})
    rnd = store.insert("assignment_rounds", {"per_need": 1, "capacity": 1, "org_capacity": 1, "min_confidence": 0.1,
                                             "figures": {"assignment": {"pairs": 1}}, "created_at": "2026-12-01"})
    store.insert("assignments", {"round_id": rnd, "need_id": need, "result_id": result, "candidate_id": cand,
                                 "score": 0.8, "confidence": 0.6})
    rows, total = store.candidates({"round_id": rnd}, "score", True, 10, 0)
    assert total == 1 and [r["id"] for r in rows] == [cand] and other_cand != cand
    assert store.meta("alerts_seq") is None
    store.put_meta("alerts_seq", "5")
    store.put_meta("alerts_seq", "7")
    assert store.meta("alerts_seq") == "7"
    sub = store.insert("subscriptions", {"org_id": other, "role": "firm", "kind": "own", "side": "results",
                                         "filters": {"industry": ["smart_equipment"]}, "min_confidence": 0.3,
                                         "secret": "s", "feed_token": "t", "since_seq": 0})
    alert = store.insert("alerts", {"subscription_id": sub, "side": "results", "listing_id": result,
                                    "counterpart_id": need, "confidence": 0.5, "payload": {"listing": {"id": result}}})
    delivery = store.insert("deliveries", {"alert_id": alert, "subscription_id": sub, "status": "pending",
                                           "attempts": 0, "next_attempt_at": time.time() - 1})
    with pytest.raises(Exception, match=r"(?i)unique"):  # one alert per subscription and pair, ever
        store.insert("alerts", {"subscription_id": sub, "side": "results", "listing_id": result,
                                "counterpart_id": need, "confidence": 0.6, "payload": {}})
    assert [d["id"] for d in store.due_deliveries(time.time())] == [delivery]
    rival = open_store(store_url)  # another process's worker
    try:
        assert store.claim_delivery(delivery, "a", time.time(), time.time() + 30)
        assert not rival.claim_delivery(delivery, "b", time.time(), time.time() + 30)
        assert rival.due_deliveries(time.time()) == []
    finally:
        rival.close()
    store.delete_listing("results", result)  # its round pairs, alerts and deliveries go with it
    assert store.count("assignments") == store.count("alerts") == store.count("deliveries") == 0
    store.delete_subscription(sub)
    assert store.count("subscriptions") == 0


def test_insert_new_adds_a_row_once_even_when_two_processes_race(store, store_url):
    a, b = _org(store), _org(store, "长安汽车", "firm")
    rival = open_store(store_url)
    try:
        first = store.insert_new("conflicts", {"org_a": a, "org_b": b, "reason": "同一集团"}, ("org_a", "org_b"))
        again = rival.insert_new("conflicts", {"org_a": a, "org_b": b, "reason": "另一理由"}, ("org_a", "org_b"))
    finally:
        rival.close()
    assert first is not None and again is None
    row = store.get("conflicts", first)
    assert row["reason"] == "同一集团" and row["created_at"] and store.count("conflicts") == 1
