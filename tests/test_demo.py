"""The demo catalogue that `run.sh` loads: every row valid, every field filled, organisations coherent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matcher.catalogue.importer import validate
from matcher.ingest.vocab import load_vocab

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
KINDS = ("organisations", "needs", "results")
# fields that are legitimately empty on some rows: a challenge's extras, a patent number for non-patents
OPTIONAL = {"reward", "challenge_goal", "challenge_indicators", "patent_no", "price", "budget"}


def rows(kind: str) -> list[dict]:
    return [json.loads(line) for p in sorted(DEMO.glob(f"{kind}*.jsonl")) for line in p.read_text("utf-8").splitlines()]


@pytest.mark.parametrize("path", sorted(DEMO.glob("*.jsonl")), ids=lambda p: p.name)
def test_every_demo_row_validates_without_warnings(path):
    kind = next(k for k in KINDS if path.name.startswith(k))
    valid, report = validate(kind, path.read_bytes(), "jsonl")
    assert report.rejected == [] and report.warnings == [] and report.ignored_columns == []
    assert len(valid) == len(path.read_text("utf-8").splitlines()) > 0


def test_refs_and_organisation_names_are_unique_and_every_listing_names_a_known_organisation():
    names = [o["name"] for o in rows("organisations")]
    assert len(names) == len(set(names))
    listings = rows("needs") + rows("results")
    refs = [r["ref"] for r in listings]
    assert len(refs) == len(set(refs))
    assert {r["org"] for r in listings} <= set(names)


def test_every_field_is_filled_and_the_catalogue_covers_the_taxonomy():
    vocab = load_vocab(Path(__file__).resolve().parents[1] / "data" / "vocab")
    needs, results = rows("needs"), rows("results")
    for r in needs + results + rows("organisations"):
        empty = [k for k, v in r.items() if v in (None, "", []) and k not in OPTIONAL]
        assert not empty, (r.get("ref") or r["name"], empty)
    challenges = [n for n in needs if n["is_challenge"]]
    assert challenges and all(n["reward"] and n["challenge_goal"] for n in challenges)
    assert any(n["confidentiality"] != "公开" for n in needs)
    industries = {vocab.industries.resolve(r["industry"]) for r in needs + results}
    assert len(industries) >= 10 and None not in industries
    assert len(needs) >= 150 and len(results) >= 400


def test_every_demo_challenge_sets_goals_about_its_own_topic():
    """A challenge's goal and indicators share technical terms with its own title and description (a goal copied
    from another listing shares none)."""
    import json
    from pathlib import Path

    from matcher.retrieval.text import char_bigrams

    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    challenges = [json.loads(line) for path in sorted(demo.glob("needs-*.jsonl"))
                  for line in path.read_text("utf-8").splitlines() if line.strip()]
    challenges = [c for c in challenges if c.get("is_challenge")]
    assert len(challenges) >= 5
    for c in challenges:
        topic = set(char_bigrams(c["title"] + c["description"]))
        goal = set(char_bigrams(c["challenge_goal"] + c["challenge_indicators"]))
        shared = len(topic & goal) / max(1, len(goal))
        assert shared >= 0.15, (c["ref"], shared)
