"""Bulk work on a real local Ray: the Ray path gives the same vectors and candidates as the in-process path on the
demo catalogue, and re-running a job redoes only what is missing."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.app import App
from matcher.bulk import get_engine
from matcher.retrieval.documents import document_text
from matcher.review import batches

from .conftest import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():
    ray = pytest.importorskip("ray")
    runner = get_engine("ray", workers=2)
    runner.connect()
    yield runner
    ray.shutdown()


def test_ray_import_and_batch_match_the_in_process_path(engine, tmp_path, e5_encoder):
    demo = tmp_path / "demo"  # the demo catalogue's first part (40 needs, 120 results): the whole takes minutes here
    demo.mkdir()
    for path in sorted(make_settings(tmp_path).demo_dir.glob("*-A.jsonl")):
        (demo / path.name).write_bytes(path.read_bytes())
    local = App(make_settings(tmp_path / "local"), encoder=e5_encoder)
    on_ray = App(make_settings(tmp_path / "ray"), encoder=e5_encoder.inner)  # its own, empty cache
    try:
        local.importer.load_folder(demo)
        on_ray.importer.load_folder(demo, engine=engine)
        # every listing's vector was encoded by the Ray actors (the service itself encoded nothing) ...
        for side in ("needs", "results"):
            rows = on_ray.store.rows(side)
            texts = [document_text(side, r) for r in rows]
            assert np.allclose(on_ray.indexes.encoder.encode_documents(texts), e5_encoder.encode_documents(texts), atol=1e-5)
        assert on_ray.indexes.encoder.misses == 0
        # ... and a second import of the same files encodes nothing anywhere (only missing chunks are re-done)
        before = on_ray.indexes.encoder.hits
        on_ray.importer.load_folder(demo, engine=engine)
        assert on_ray.indexes.encoder.misses == 0 and on_ray.indexes.encoder.hits > before

        run_local = local.batches.run_now(top_k=5)
        run_ray = on_ray.batches.run_now(top_k=5, engine=engine)
        assert run_ray["engine"] == "ray" and run_local["engine"] == "local"
        assert run_ray["needs_total"] == run_local["needs_total"] == run_ray["needs_done"]
        assert run_ray["candidates"] == run_local["candidates"] > 0

        def candidates(service):
            rows, _ = service.store.candidates({}, "id", False, 100_000, 0)
            return {(r["need_id"], r["result_id"]): (r["rank"], r["score"]) for r in rows}
        a, b = candidates(local), candidates(on_ray)
        assert a.keys() == b.keys()
        assert all(a[k][0] == b[k][0] and abs(a[k][1] - b[k][1]) < 1e-4 for k in a)
    finally:
        local.close()
        on_ray.close()


def test_a_resumed_ray_run_scores_only_the_needs_it_has_not(engine, catalogue_copy, e5_encoder):

    service = App(make_settings(catalogue_copy), encoder=e5_encoder.inner)
    try:
        ticket = service.batches.start(top_k=3, method=None, actor="test")
        needs = service.store.ids("needs", "status = ?", ["open"])
        service.batches.score_needs(ticket.run_id, needs[:2], 3, service.settings.method)  # then the job died
        service.store.release_lock(batches.LOCK, ticket.token)
        scored = service.store.scored_needs(ticket.run_id)
        stamps = {r["id"]: r["updated_at"] for r in service.store.rows("candidates")}
        run = service.batches.run_now(top_k=3, engine=engine, resume=ticket.run_id)
        assert run["id"] == ticket.run_id and run["status"] == "done" and run["needs_done"] == len(needs)
        assert service.store.scored_needs(ticket.run_id) == set(needs)
        # the two needs scored before the interruption were not scored again
        again = {r["id"]: r["updated_at"] for r in service.store.rows("candidates") if r["need_id"] in scored}
        assert again == {k: v for k, v in stamps.items() if k in again}
    finally:
        service.close()
