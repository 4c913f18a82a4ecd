"""揭榜挂帅 challenges: needs published with a goal, indicators and a reward, and the applications filed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matcher.catalogue.service import Catalogue
from matcher.errors import Conflict, Invalid
from matcher.store import Store

if TYPE_CHECKING:
    from matcher.access.policy import Principal


APPLICATION_STATUSES = ("submitted", "shortlisted", "declined")


class Challenges:
    """揭榜挂帅 challenges: published needs, institutions' applications and their review."""

    def __init__(self, store: Store, catalogue: Catalogue) -> None:
        self.store = store
        self.catalogue = catalogue

    def publish_challenge(self, need_id: int, goal: str, indicators: str, deadline: str | None,
                          reward: float | None, actor: str = "system") -> dict[str, Any]:
        """Publish a need as a 揭榜挂帅 challenge with its goal, indicators, deadline and reward."""
        if not (goal or "").strip() or not (indicators or "").strip():
            raise Invalid("a challenge needs a goal and indicators", key="challenge_needs_goal")
        changes = {"is_challenge": True, "challenge_goal": goal, "challenge_indicators": indicators, "reward": reward}
        if deadline:
            changes["deadline"] = deadline
        row = self.catalogue.update_listing("needs", need_id, changes, actor)
        self.store.audit(actor, "publish_challenge", "needs", need_id, {"reward": reward})
        return row

    def list_challenges(self, limit: int = 50, offset: int = 0, viewer: Principal | bool | None = True
                        ) -> tuple[list[dict[str, Any]], int]:
        """Needs published as challenges, newest first, as `viewer` may see them, each with its number of
        applications; a challenge published twice (a relisting, see matching/duplicates.py) is listed once, as its
        first copy, with `copies` naming the others."""
        rows, total = self.catalogue.list_listings("needs", {"is_challenge": True}, sort="-id", limit=limit,
                                                   offset=offset,
                                                   viewer=viewer)
        copies = self.catalogue.copies("needs", [row["id"] for row in rows])
        for row in rows:
            row["copies"] = sorted(c for c, first in copies.items() if first == row["id"])
        rows = [row for row in rows if row["id"] not in copies]
        total -= len(copies)
        counts = self.store.application_counts([row["id"] for row in rows])
        for row in rows:
            row["applications"] = counts.get(row["id"], 0)
        return rows, total

    def apply_challenge(self, need_id: int, org: str, team: str, proposal: str,
                        result_id: int | None = None, actor: str = "system") -> dict[str, Any]:
        """File a team's application (揭榜) against a challenge, optionally citing one of its results."""
        need = self.catalogue.get_listing("needs", need_id)
        if not need.get("is_challenge"):
            raise Invalid(f"need {need_id} is not a published challenge", key="not_a_challenge")
        if not (org or "").strip() or not (proposal or "").strip():
            raise Invalid("an application needs the applying organisation and a proposal", key="application_needs_text")
        if result_id is not None:
            self.catalogue.get_listing("results", result_id)
        with self.store.transaction():
            org_id = self.store.org_id(org.strip(), "institute")
            standing = [a for a in self.store.applications(need_id)
                        if a["org_id"] == org_id and a["status"] in ("submitted", "shortlisted")]
            if standing:  # one application per organisation and challenge (a declined one may be followed by another)
                raise Conflict(f"{org.strip()} has applied to this challenge already (application {standing[0]['id']}, "
                               f"{standing[0]['status']})", key="applied_already", status=standing[0]["status"])
            app_id = self.store.insert("challenge_applications", {
                "need_id": need_id, "org_id": org_id, "result_id": result_id, "team": team, "proposal": proposal,
                "status": "submitted"})
            self.store.audit(actor, "apply", "challenge_applications", app_id, {"need_id": need_id})
        return self.store.get("challenge_applications", app_id)

    def list_applications(self, need_id: int) -> list[dict[str, Any]]:
        """Applications filed against a challenge, with the organisations' names."""
        self.catalogue.get_listing("needs", need_id)
        return self.store.applications(need_id)

    def applications_of(self, org_id: int) -> list[dict[str, Any]]:
        """An organisation's own applications, newest first, with each challenge's title and where it stands."""
        return self.store.applications_by_org(org_id)

    def review_application(self, app_id: int, status: str, actor: str = "system") -> dict[str, Any]:
        """A broker's verdict on an application: shortlisted or declined (or back to submitted); audited."""
        if status not in APPLICATION_STATUSES:
            raise Invalid(f"status must be one of {', '.join(APPLICATION_STATUSES)}")
        with self.store.transaction():
            before = self.store.get("challenge_applications", app_id)
            self.store.update("challenge_applications", app_id, {"status": status})
            self.store.audit(actor, "review", "challenge_applications", app_id,
                             {"from": before["status"], "to": status, "need_id": before["need_id"]})
        return self.store.get("challenge_applications", app_id)
