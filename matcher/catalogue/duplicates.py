"""Duplicate and near-duplicate listings of one side: a re-imported file, a need posted twice, a result relisted
with "（2026年更新）" appended.

Two listings are taken for one when they come from the same organisation (or either names none) and either their
normalised titles nearly agree and their texts are close (the same encoder's passage vectors, cosine ≥ NEAR), or
their texts are all but identical (cosine ≥ SAME) and their titles alike at least in part (a firm's several needs
posted under one company description have near-identical texts and different titles), and the titles do not carry
different numbers (varieties 临麦35号 and 临麦36号 are a series, not a relisting). Listings of two different
organisations are never duplicates: two firms with the same problem are two needs, and a broker wants both. The
candidates are the listing's nearest neighbours on its own side of the catalogue's dense index, so a check costs
one small search.
Thresholds were set on the demo catalogue's relistings and checked on real listings (README, "Duplicates").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher
from typing import Any

import numpy as np

TITLE = 0.8  # normalised titles at least this alike (difflib ratio) …
NEAR = 0.92  # … and passages at least this close: a relisting with an edited title or text
SAME = 0.975  # passages this close are one listing when the titles are at least …
SAME_TITLE = 0.75  # … this alike (a firm posting several needs under one company blurb has near-identical texts)
NEIGHBOURS = 20  # nearest listings of the same side examined

# notes a relisting adds in brackets: （再次征集）, (可定制), 【2026年更新】
_BRACKETED = re.compile(r"[（(【\[〔][^）)】\]〕]{0,20}[）)】\]〕]")
_NOT_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def normalise_title(title: str) -> str:
    """A title as compared for duplicates: NFKC, lower case, bracketed notes, punctuation and spaces removed."""
    t = unicodedata.normalize("NFKC", title or "").lower()
    return _NOT_WORD.sub("", _BRACKETED.sub("", t))


def title_similarity(a: str, b: str) -> float:
    """How alike two titles are after normalising (1.0: the same title)."""
    na, nb = normalise_title(a), normalise_title(b)
    if not na or not nb:
        return 0.0
    return 1.0 if na == nb else SequenceMatcher(None, na, nb, autojunk=False).ratio()


@dataclass(frozen=True)
class Duplicate:
    """A listing taken for a copy of another, and why."""

    id: int
    ref: str | None
    title: str
    org_id: int | None
    similarity: float  # cosine of the two passage vectors
    title_similarity: float
    same_organisation: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def numbers_differ(a: str, b: str) -> bool:
    """Whether two titles both carry numbers and not the same ones: 临麦35号 and 临麦36号, a 2.5 t and a 3.0 t
    forklift are a series, not a relisting (bracketed notes such as （2026年更新） do not count)."""
    na = _NUMBER.findall(_BRACKETED.sub("", unicodedata.normalize("NFKC", a or "")))
    nb = _NUMBER.findall(_BRACKETED.sub("", unicodedata.normalize("NFKC", b or "")))
    return bool(na) and bool(nb) and sorted(na) != sorted(nb)


def judge(row: dict[str, Any], other: dict[str, Any], cosine: float) -> Duplicate | None:
    """`other` as a duplicate of `row` (org ids compared; None when either has none), or None."""
    a, b = row.get("org_id"), other.get("org_id")
    if a is not None and b is not None and a != b:
        return None
    if numbers_differ(row.get("title") or "", other.get("title") or ""):
        return None
    ts = title_similarity(row.get("title") or "", other.get("title") or "")
    if not ((ts >= TITLE and cosine >= NEAR) or (ts >= SAME_TITLE and cosine >= SAME)):
        return None
    return Duplicate(int(other["id"]), other.get("ref"), other.get("title") or "", b, round(float(cosine), 4),
                     round(ts, 4), a is not None and a == b)


def find_many(store: Any, dense: Any, side: str, rows: list[dict[str, Any]], vectors: np.ndarray,
              excludes: list[set[int]] | None = None, limit: int = 5, unseen: Collection[int] = ()
              ) -> list[list[Duplicate]]:
    """For each row (its passage vector given), the listings of `side` that duplicate it, closest first: one
    batched search of the side's dense index, one read of the neighbours' rows. `unseen` listings (what the caller
    may not read) are left out of the search itself, so they take no neighbour's place either."""
    excludes = excludes or [set() for _ in rows]
    if not rows or len(dense) == 0:
        return [[] for _ in rows]
    k = min(NEIGHBOURS + max(len(e) for e in excludes), len(dense))
    scores, ids = dense.search(np.atleast_2d(vectors).astype(np.float32), k, excluded=unseen)
    near = [[(int(i), float(s)) for i, s in zip(ids[r], scores[r], strict=True)
             if i >= 0 and int(i) not in excludes[r] and s >= NEAR] for r in range(len(rows))]
    listed = store.get_many(side, sorted({i for hits in near for i, _ in hits}))
    out = []
    for row, hits in zip(rows, near, strict=True):
        found = [d for i, s in hits if i in listed and (d := judge(row, listed[i], s)) is not None]
        out.append(sorted(found, key=lambda d: (-d.similarity, d.id))[:limit])
    return out


def find(store: Any, dense: Any, side: str, row: dict[str, Any], vector: np.ndarray,
         exclude: set[int] | None = None, limit: int = 5, unseen: Collection[int] = ()) -> list[Duplicate]:
    """The listings of `side` that duplicate `row` (its passage vector given), closest first."""
    return find_many(store, dense, side, [row], np.atleast_2d(vector), [exclude or set()], limit, unseen)[0]


def among(rows: list[dict[str, Any]], vectors: np.ndarray) -> dict[int, int]:
    """Within one batch of rows (positions): each row that duplicates an earlier one → that earlier row."""
    out: dict[int, int] = {}
    if len(rows) < 2:
        return out
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    scores, ids = index.search(vectors, min(NEIGHBOURS, len(rows)))
    for j in range(1, len(rows)):
        earlier = sorted((int(i), float(s)) for i, s in zip(ids[j], scores[j], strict=True) if 0 <= i < j and s >= NEAR)
        for i, score in earlier:
            if i not in out and judge(rows[j], {**rows[i], "id": i}, score) is not None:
                out[j] = i
                break
    return out
