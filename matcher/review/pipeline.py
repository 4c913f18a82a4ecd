"""The pairing pipeline: confirmed pairs moved stage by stage to a signed contract (or dropped), each move audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matcher.errors import Conflict, Invalid
from matcher.ingest.vocab import Vocab
from matcher.store import Store, now

# pipeline stages in order; any open stage may also move to "dropped"
STAGE_ORDER = ("confirmed", "contacted", "negotiating", "contract_signed", "closed")
FINAL_STAGES = ("closed", "dropped")


def next_stages(stage: str) -> list[str]:
    """The stages a pairing may move to from `stage`."""
    if stage in FINAL_STAGES:
        return []
    i = STAGE_ORDER.index(stage)
    return [*STAGE_ORDER[i + 1:i + 2], "dropped"]


class Pipeline:
    """Pairings from introduction to contract: stages, plans and what is due."""

    def __init__(self, store: Store, vocab: Vocab) -> None:
        self.store = store
        self.vocab = vocab

    def list_pairings(self, stage: Sequence[str] | str | None = None, limit: int = 50,
                      offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Pairings (confirmed pairs on their way to a contract), newest change first."""
        stages = [stage] if isinstance(stage, str) else list(stage or [])
        return self.store.pairings(stages, limit, offset)

    def get_pairing(self, pairing_id: int) -> dict[str, Any]:
        """One pairing with titles and its audited history of stage moves."""
        row = self.store.pairing(pairing_id)
        # an id can be given again after its pairing was undone (a new pairing then gets it): its history starts with it
        audited = self.store.rows("audit_log", {"entity": "pairings", "entity_id": pairing_id})
        row["history"] = [h for h in audited if (h.get("at") or "") >= (row.get("created_at") or "")]
        return row

    def move_pairing(self, pairing_id: int, stage: str, actor: str = "system", note: str = "",
                     contract_value: float | None = None) -> dict[str, Any]:
        """Move a pairing one stage on (or drop it); a signed contract needs its value in 万元."""
        if stage not in self.vocab.pairing_stages.names:
            raise Invalid(f"unknown stage {stage!r}; use one of {', '.join(self.vocab.pairing_stages.codes)}",
                          key="unknown_stage")
        with self.store.transaction():
            pairing = self.store.get("pairings", pairing_id)
            allowed = next_stages(pairing["stage"])
            if stage not in allowed:
                raise Conflict(f"a pairing at stage {pairing['stage']!r} can move to "
                               + (", ".join(allowed) if allowed else "no other stage (it is final)"),
                               key="stage_not_allowed", stage=pairing["stage"], target=stage)
            changes: dict[str, Any] = {"stage": stage}
            if stage == "contract_signed":
                if contract_value is None or contract_value <= 0:
                    raise Invalid("contract_signed needs contract_value > 0 (万元)", key="contract_value_needed")
                changes.update(contract_value=float(contract_value), signed_at=now())
            if note:
                changes["notes"] = ((pairing.get("notes") or "") + "\n" + note).strip()
            self.store.update("pairings", pairing_id, changes)
            self.store.audit(actor, "move", "pairings", pairing_id,
                             {"from": pairing["stage"], "to": stage, "note": note, "contract_value": contract_value})
            if stage in ("contract_signed", "closed"):
                self.store.update("needs", pairing["need_id"], {"status": "solved"})
        return self.get_pairing(pairing_id)

    def plan_pairing(self, pairing_id: int, next_action: str, due: str | None,
                     actor: str = "system") -> dict[str, Any]:
        """Set a pairing's next action and its date (YYYY-MM-DD; empty action and no date clear it); audited."""
        from matcher.ingest import normalize as nz

        action = (next_action or "").strip()
        if len(action) > 500:
            raise Invalid("next_action is longer than 500 characters", key="too_long", n=500)
        try:
            when = nz.parse_date(due) if due else None
        except ValueError as exc:
            raise Invalid(f"next_action_at: {exc}", key="bad_date") from None
        if action and not when:
            raise Invalid("a next action needs its date (next_action_at, YYYY-MM-DD)", key="plan_needs_date")
        with self.store.transaction():
            pairing = self.store.get("pairings", pairing_id)
            if pairing["stage"] in FINAL_STAGES:
                raise Conflict(f"the pairing is {pairing['stage']!r}: nothing is due on it any more",
                               key="pairing_final",
                               stage=pairing["stage"])
            self.store.update("pairings", pairing_id, {"next_action": action or None, "next_action_at": when})
            self.store.audit(actor, "plan", "pairings", pairing_id, {"next_action": action, "next_action_at": when})
        return self.get_pairing(pairing_id)

    def due_pairings(self, on: str | None = None) -> list[dict[str, Any]]:
        """Open pairings whose next action is due on or before `on` (today, Beijing time), earliest first."""
        from matcher.localtime import today

        day = on or today().isoformat()
        return self.store.due_pairings(day, FINAL_STAGES)
