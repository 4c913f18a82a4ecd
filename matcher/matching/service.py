"""Matching as a service: the best counterparts of a listing, or of free text, ranked by the matcher (rank →
confidence → rerank → boosts → explain) over this process's indexes, and shown as the caller may see them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from matcher.access.policy import Principal, outsider_scope, redact_match
from matcher.catalogue import duplicates
from matcher.catalogue.indexes import Indexes
from matcher.catalogue.service import Catalogue, checked_side
from matcher.ingest.vocab import Vocab
from matcher.learning.models import Models
from matcher.matching.matcher import OTHER, Match, Matcher
from matcher.settings import Settings
from matcher.store import Outsider, Store

log = logging.getLogger("techmatch")


class Matching:
    """Rankings in both directions and for free text, each as its caller may see it. Thread-safe."""

    def __init__(self, settings: Settings, store: Store, vocab: Vocab, indexes: Indexes, models: Models,
                 catalogue: Catalogue) -> None:
        self.settings = settings
        self.vocab = vocab
        self.indexes = indexes
        self.models = models
        self.catalogue = catalogue
        self.matcher = Matcher(store, vocab, settings.method, lambda: indexes.encoder, lambda: indexes.live, models)

    def batch_method(self) -> str:
        """The method of a batch run nobody chose one for: the cross-encoder's when one is installed here and can
        run (loads it; one that cannot is logged and the default method serves)."""
        if self.settings.batch_method:
            return self.settings.batch_method
        if self.models.cross_encoder_installed:
            if self.models.cross_encoder is not None:
                return "hybrid-ce"
            log.warning("batch runs use %s: %s", self.settings.method, self.models.cross_encoder_error)
        return self.settings.method

    @staticmethod
    def _visible(target: str, filters: dict[str, Any] | None, viewer: Principal | bool | None) -> dict[str, Any]:
        """Hard filters plus what the caller may see: an outsider's needs-side ranking leaves out other
        organisations' confidential needs, so no ranking (and no rank) ever reflects text hidden from it."""
        outsider, org = outsider_scope(viewer)
        if target == "needs" and outsider:
            return {**(filters or {}), "visible_to": Outsider(org)}
        return dict(filters or {})

    def match_listing(self, side: str, item_id: int, top_k: int | None = None,
                      filters: dict[str, Any] | None = None, method: str | None = None,
                      viewer: Principal | bool | None = True, explain: bool = True) -> list[Match]:
        """The best counterparts of a need (results) or of a result (needs), as `viewer` may see them
        (`explain=False`: without shared terms and best sentence, for bulk work that explains only what it keeps)."""
        row = self.catalogue.get_listing(side, item_id)
        self.catalogue.require_readable(side, row, viewer)
        found = self.matcher.matches(OTHER[side], self.matcher.listing_query(side, row), row,
                                     top_k or self.settings.top_k, self._visible(OTHER[side], filters, viewer), method,
                                     explain=explain, public=outsider_scope(viewer)[0])
        return self.seen(found, viewer, row if side == "needs" else None)

    def match_need(self, need_id: int, **kw: Any) -> list[Match]:
        return self.match_listing("needs", need_id, **kw)

    def match_result(self, result_id: int, **kw: Any) -> list[Match]:
        return self.match_listing("results", result_id, **kw)

    def search(self, text: str, side: str = "results", top_k: int | None = None,
               filters: dict[str, Any] | None = None, method: str | None = None,
               viewer: Principal | bool | None = True, explain: bool = True) -> list[Match]:
        """Free text against one side (e.g. a firm describing its problem in a sentence), as `viewer` may see it."""
        return self.seen(self.matcher.matches(checked_side(side), self.matcher.text_query(text), None,
                                              top_k or self.settings.top_k, self._visible(side, filters, viewer),
                                              method, explain=explain, public=outsider_scope(viewer)[0]), viewer)

    def without_copies(self, matches: Sequence[Match], side: str = "results") -> list[Match]:
        """A ranking with every listing that copies a higher-ranked one left out (ranks renumbered)."""
        if len(matches) < 2:
            return list(matches)
        vectors = self.indexes.live.sides[side].dense.vectors([m.id for m in matches])
        dropped = duplicates.among([m.item for m in matches], vectors)
        kept = [m for pos, m in enumerate(matches) if pos not in dropped]
        return [replace(m, rank=r) for r, m in enumerate(kept, 1)]

    def seen(self, matches: list[Match], viewer: Principal | bool | None, query_need: dict[str, Any] | None = None
             ) -> list[Match]:
        """Matches as `viewer` may see them: a confidential need neither as the item nor through the explanation
        (shared terms, best sentence), whether it is the match or the need matched."""
        if viewer is True:
            return matches
        out = []
        for m in matches:
            d = redact_match(m.to_dict(), viewer or None, query_need,
                             self.vocab.industries.name(m.item.get("industry") or "other"))
            out.append(replace(m, item=d["item"], explanation=d["explanation"]))
        return out
