"""Request and response shapes of the API, built on the vocabularies; the listings' own family (NeedCreate, NeedUpdate,
NeedPublic, and the same for results) is matcher.ingest.schemas', shared with the importer and the workbench."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from matcher.ingest.schemas import (
    MONEY,
    SHORT_MAX,
    TEXT_MAX,
    TITLE_MAX,
    District,
    IdField,
    Industry,
    IsoDate,
    Mode,
    NeedPublic,
    OrgKind,
    RejectReason,
    ResultPublic,
    Stage,
    Strict,
)
from matcher.ingest.schemas import NeedCreate as NeedCreate  # the listing family, re-exported for the routes
from matcher.ingest.schemas import NeedUpdate as NeedUpdate
from matcher.ingest.schemas import ResultCreate as ResultCreate
from matcher.ingest.schemas import ResultUpdate as ResultUpdate
from matcher.retrieval.ranking import METHODS

Side = Literal["needs", "results"]
Method = Literal[tuple(METHODS)]  # every ranking method by name, as `techmatch eval` reports them

T = TypeVar("T")



class Page(BaseModel, Generic[T]):
    """A page of a list with the total number of matching rows."""

    items: list[T]
    total: int
    limit: int
    offset: int


# -- organisations ----------------------------------------------------------------------------
class OrgCreate(Strict):
    """A new organisation (admins)."""

    name: str = Field(min_length=1, max_length=TITLE_MAX, examples=["山城理工大学"])
    kind: OrgKind = "firm"
    district: District | None = None
    industry: Industry | None = None
    contact: str = Field("", max_length=SHORT_MAX)
    description: str = Field("", max_length=TEXT_MAX)


class OrgPublic(BaseModel):
    id: int
    name: str
    kind: str
    district: str | None = None
    industry: str | None = None
    contact: str | None = None
    description: str | None = None
    created_at: str | None = None


class MatchFilters(Strict):
    industry: list[Industry] | None = None
    district: list[District] | None = None
    status: list[str] | None = Field(None, max_length=10)
    trl_min: int | None = Field(None, ge=1, le=9)
    trl_max: int | None = Field(None, ge=1, le=9)
    modes: list[Mode] | None = None


class Fits(BaseModel):
    industry_match: bool
    industry: str
    district_match: bool
    maturity_gap: int
    result_trl: int
    wanted_trl: list[int]
    modes_match: list[str]
    modes_compatible: list[str]
    modes_fit: bool | None = None
    industry_code: str | None = Field(None, description="The result's cluster code (industry is its name).")
    mode_codes: dict[str, list[str]] | None = Field(None, description="modes_match / modes_compatible as codes.")


class Explanation(BaseModel):
    shared_terms: list[str] = []
    best_sentence: str = ""
    fits: Fits | None = None
    summary: str = ""


class MatchPublic(BaseModel):
    """One suggested counterpart with its score components and explanation."""

    id: int
    side: Side
    rank: int
    score: float = Field(description="Ranking score: the method's fused score times (1 + cluster/district boost).")
    confidence: float | None = Field(None, ge=0, le=1, description=(
        "Calibrated probability (0–1) that the pair is relevant: about that share of pairs with this confidence "
        "were judged relevant. Null where the method has no calibration."))
    components: dict[str, float]
    item: dict[str, Any] = Field(description="The matched need (NeedPublic) or result (ResultPublic).")
    explanation: Explanation


class DuplicatePublic(BaseModel):
    """A listing of the same side that looks like a copy (posted twice, imported again, relisted)."""

    id: int
    ref: str | None = None
    title: str
    org_id: int | None = None
    similarity: float = Field(description="Cosine of the two listings' text vectors (the matching encoder's).")
    title_similarity: float = Field(description="How alike the normalised titles are, 0–1 (1: the same title).")
    same_organisation: bool = Field(description="Both listings name the same organisation (else one names none).")


class DuplicatesPublic(BaseModel):
    items: list[DuplicatePublic]


class MergeRequest(Strict):
    """Fold a duplicate listing of the same side into this one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"duplicate_id": 42}]})
    duplicate_id: int = Field(ge=1, le=2**53, description="The copy to fold in; it is deleted afterwards.")


class MergeReport(BaseModel):
    kept: int
    merged: int
    candidates: int = Field(description="Candidates moved over (with their decisions and reviews).")
    reviews: int = Field(description="Reviews moved onto a candidate both listings had.")
    pairings: int
    applications: int


class NeedCreated(NeedPublic):
    possible_duplicates: list[DuplicatePublic] = Field(
        [], description="Listings already in the catalogue that look like copies of this one.")


class ResultCreated(ResultPublic):
    possible_duplicates: list[DuplicatePublic] = Field(
        [], description="Listings already in the catalogue that look like copies of this one.")


class MatchesPublic(BaseModel):
    query: dict[str, Any] = Field(description="What was matched: the listing's id and title, or the free text.")
    method: str
    items: list[MatchPublic]


class SearchRequest(Strict):
    text: str = Field(min_length=1, max_length=2000, examples=["退役动力电池锂回收"])
    side: Side = "results"
    top_k: int = Field(10, ge=1, le=100)
    method: Method | None = None
    filters: MatchFilters | None = None


# -- review -----------------------------------------------------------------------------------
class Confirm(Strict):
    """Confirm a candidate: a pairing opens at stage `confirmed`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "confirm", "note": "企业技术负责人有意向，约下周面谈"}]})

    decision: Literal["confirm"]
    note: str = Field("", max_length=SHORT_MAX)


class Reject(Strict):
    """Reject a candidate with a reason code."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decision": "reject", "reason_code": "maturity_gap", "note": "成果仍在小试，企业要求可量产"}]})

    decision: Literal["reject"]
    reason_code: RejectReason
    note: str = Field("", max_length=SHORT_MAX)


Decision = Annotated[Confirm | Reject, Field(discriminator="decision")]


class BulkReject(Strict):
    candidate_ids: list[IdField] = Field(min_length=1, max_length=500)
    reason_code: RejectReason
    note: str = Field("", max_length=SHORT_MAX)


class BulkConfirm(Strict):
    candidate_ids: list[IdField] = Field(min_length=1, max_length=500)
    note: str = Field("", max_length=SHORT_MAX)


class ReviewPublic(BaseModel):
    id: int
    candidate_id: int
    decision: str
    reason_code: str | None = None
    note: str | None = None
    actor: str | None = None
    created_at: str | None = None


class CandidatePublic(BaseModel):
    id: int
    run_id: int | None = None
    need_id: int
    result_id: int
    rank: int | None = None
    score: float
    confidence: float | None = None
    method: str | None = None
    components: dict[str, float] = {}
    explanation: dict[str, Any] = {}
    status: str
    need: dict[str, Any] = {}
    result: dict[str, Any] = {}
    review: ReviewPublic | None = Field(None, description="The decision that stands (reason, note, who, when).")
    created_at: str | None = None
    updated_at: str | None = None


class StageMove(Strict):
    """Move a pairing to its next stage (or drop it)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"stage": "contract_signed", "contract_value": 120, "note": "签订技术许可合同"}]})
    stage: Stage
    note: str = Field("", max_length=SHORT_MAX)
    contract_value: float | None = Field(None, gt=0, le=1e8, description="万元; required for contract_signed.")


class PairingPlan(Strict):
    """A pairing's next action and its date (both empty: cleared)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"next_action": "约企业技术总监面谈", "next_action_at": "2026-12-08"}]})
    next_action: str = Field("", max_length=500)
    next_action_at: dt.date | None = None


class PairingPublic(BaseModel):
    id: int
    candidate_id: int
    need_id: int
    result_id: int
    stage: str
    contract_value: float | None = None
    notes: str | None = None
    signed_at: str | None = None
    next_action: str | None = None
    next_action_at: str | None = None
    need_title: str | None = None
    result_title: str | None = None
    need_org: str | None = None
    result_org: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    history: list[dict[str, Any]] = []


# -- challenges -------------------------------------------------------------------------------
class ChallengeCreate(Strict):
    """Publish a need as a 揭榜挂帅 challenge."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"need_id": 1, "goal": "接触疲劳寿命提升30%", "indicators": "台架试验报告；小批量验证",
         "deadline": "2027-06-30", "reward": 200}]})
    need_id: IdField
    goal: str = Field(min_length=1, max_length=TEXT_MAX)
    indicators: str = Field(min_length=1, max_length=TEXT_MAX)
    deadline: IsoDate | None = None
    reward: float | None = MONEY


class ApplicationCreate(Strict):
    """A team's application (揭榜) against a challenge."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"team": "表面工程课题组", "proposal": "激光淬火替代渗碳淬火，六个月完成台架验证", "result_id": 1}]})
    team: str = Field("", max_length=SHORT_MAX)
    proposal: str = Field(min_length=1, max_length=TEXT_MAX)
    result_id: IdField | None = None


class ApplicationPublic(BaseModel):
    id: int
    need_id: int
    org_id: int | None = None
    org: str | None = None
    result_id: int | None = None
    team: str | None = None
    proposal: str | None = None
    status: str
    created_at: str | None = None


class OwnApplicationPublic(ApplicationPublic):
    """One of the caller's own applications, with the challenge it answers."""

    challenge_title: str = Field(description="The challenge's title.")


class ApplicationReview(Strict):
    """A broker's verdict on an application."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "shortlisted"}]})
    status: Literal["submitted", "shortlisted", "declined"]


# -- operations -------------------------------------------------------------------------------
class AssignmentCreate(Strict):
    """The limits of an assignment round (pairs for all open needs at once)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"per_need": 5, "capacity": 3, "min_confidence": 0.1}]})
    per_need: int = Field(5, ge=1, le=50, description="At most this many results per need (at least one where any "
                                                     "clears min_confidence and the limits allow).")
    capacity: int = Field(3, ge=1, le=1000, description="Each result is proposed at most this many times.")
    org_capacity: int | None = Field(None, ge=1, le=10_000, description=(
        "Each result-owning organisation is proposed at most this many times (default: no organisation limit)."))
    min_confidence: float = Field(0.1, ge=0, le=1, description="Pairs below this calibrated confidence are left out.")


class AssignmentItem(BaseModel):
    need_id: int
    result_id: int
    candidate_id: int
    score: float
    confidence: float


class AssignmentRound(BaseModel):
    id: int
    per_need: int
    capacity: int
    org_capacity: int | None = Field(None, description="The organisation limit (null: none was set).")
    min_confidence: float
    figures: dict[str, Any] = Field(description=(
        "assignment (this round), greedy_limited (greedy under the same limits), greedy_top_k (no limits): pairs, "
        "total_confidence, needs_covered, results_proposed, max_per_result, gini_per_result, seconds; limits: the "
        "exact optimum with the limits added one at a time (per_need, capacity, org_capacity), so what each limit "
        "cost; eligible_pairs; left_out by reason."))
    actor: str | None = None
    created_at: str
    items: list[AssignmentItem] = Field(default_factory=list)


class ConflictCreate(Strict):
    """Two organisations never to be proposed to each other, by exact name (or id written as text)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"org_a": "重庆某齿轮有限公司", "org_b": "某理工大学", "reason": "同一控股集团"}]})
    org_a: str = Field(min_length=1, max_length=TITLE_MAX)
    org_b: str = Field(min_length=1, max_length=TITLE_MAX)
    reason: str = Field("", max_length=500)


class ConflictPublic(BaseModel):
    id: int
    org_a: int
    org_b: int
    org_a_name: str
    org_b_name: str
    reason: str | None = None
    actor: str | None = None
    created_at: str


class SubscriptionFilters(Strict):
    industry: list[Industry] = Field(default_factory=list, max_length=50)
    district: list[District] = Field(default_factory=list, max_length=50)


class SubscriptionCreate(Strict):
    """What to be alerted of: new counterparts of one's own listings, or new listings a saved search finds."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "own", "min_confidence": 0.3, "webhook_url": "https://example.cn/hooks/techmatch"},
        {"kind": "search", "side": "results", "query": "齿轮 激光淬火", "filters": {"industry": ["smart_equipment"]},
         "min_confidence": 0.2}]})
    kind: Literal["own", "search"]
    side: Side | None = Field(None, description=(
        "The side to watch: for a saved search (required), or a broker's own-listings subscription. A firm always "
        "watches results, an institution needs."))
    query: str = Field("", max_length=2000, description="The saved search's text (kind search).")
    filters: SubscriptionFilters | None = None
    min_confidence: float = Field(0.3, ge=0, le=1, description="Alert only matches at least this confident.")
    webhook_url: str | None = Field(None, max_length=500, description=(
        "POST each alert here as JSON, signed: X-Techmatch-Signature: sha256=HMAC-SHA256(secret, body)."))
    name: str = Field("", max_length=200)


class SubscriptionPublic(BaseModel):
    id: int
    org_id: int
    role: str
    actor: str | None = None
    name: str | None = None
    kind: str
    side: str
    query: str | None = None
    filters: dict[str, list[str]] = {}
    min_confidence: float
    webhook_url: str | None = None
    feed_url: str = Field(description="The Atom feed (its token in the address: keep it private).")
    alerts: int = 0
    created_at: str
    secret: str | None = Field(None, description="The webhook signing secret: returned once, at creation.")


class AlertPublic(BaseModel):
    id: int
    subscription_id: int
    side: str
    listing_id: int
    counterpart_id: int
    confidence: float
    payload: dict[str, Any]
    created_at: str


class DeliveryPublic(BaseModel):
    id: int
    alert_id: int
    subscription_id: int
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: float | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: str | None = None
    created_at: str
    updated_at: str | None = None


class MissingField(BaseModel):
    field: str = Field(description="indicators, current_state, constraints, substance, trl, budget, deadline, cluster")
    prompt: str
    example: str | None = Field(None, description="Quoted from a nearby well-specified need (or a fixed example).")
    source: dict[str, Any] | None = Field(None, description="The need the example is quoted from: need_id, title.")
    credit: float
    weight: float


class NeedCheck(BaseModel):
    completeness: float = Field(description="0–1, the weighted share of what a well-specified need states.")
    complete: bool
    threshold: float
    fields: dict[str, float]
    present: list[str]
    missing: list[MissingField]
    suggested: dict[str, Any] = Field(description=(
        "industry, industry_name, industry_confidence, alternatives (a classifier trained on the catalogue's own "
        "labelled listings) and keywords."))
    invalid: list[Any] = Field(default_factory=list, description="Fields of the draft that would be refused.")


class TopicTeam(BaseModel):
    result_id: int
    title: str
    org: str | None = None
    team: str | None = None
    trl: int | None = None
    confidence: float | None = None
    score: float | None = None


class ResearchTopic(BaseModel):
    need_id: int | None = None
    title: str
    cluster: str | None = None
    background: str
    objectives: list[str]
    indicators: list[str]
    constraints: list[str]
    keywords: list[str]
    teams: list[TopicTeam]
    text: str = Field(description="The whole draft as Markdown.")


class BatchCreate(Strict):
    """Start a batch run over every open need."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"top_k": 10, "method": "hybrid"}]})
    top_k: int = Field(10, ge=1, le=50)
    method: Method | None = None


class BatchPublic(BaseModel):
    id: int
    status: str
    method: str | None = None
    top_k: int | None = None
    needs_total: int | None = None
    needs_done: int | None = None
    candidates: int | None = None
    error: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    actor: str | None = None


class ImportReportPublic(BaseModel):
    kind: str
    source: str
    accepted: int
    created: int
    updated: int
    rejected_rows: int
    rejected: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    ignored_columns: list[str]
    duplicates: list[dict[str, Any]] = Field([], description=(
        "Rows that look like copies: of a listing already in the catalogue (duplicate_of, its id) or of an earlier "
        "row of the file (duplicate_of_row); a file imported twice shows every row here."))
    skipped: int = Field(0, description="Duplicate rows left out (skip_duplicates).")


class Health(BaseModel):
    """Readiness, and how far this process's indexes are behind the store's change log."""

    status: Literal["ready", "loading"]
    encoder: str | None = None
    dim: int | None = None
    counts: dict[str, int] = {}
    indexed: dict[str, int] = {}
    log_seq: int | None = Field(None, description="Newest sequence in the store's change log.")
    applied_seq: int | None = Field(None, description="Sequence this process's indexes reflect.")
    lag: int | None = Field(None, description="Changes committed but not yet applied here (log_seq − applied_seq).")
    snapshot_seq: int | None = Field(None, description="Sequence of the newest index snapshot this process knows.")
    index: dict[str, str] = Field({}, description="Vector index kind per side: flat (exact), ivf or ivfsq.")
    store: str | None = Field(None, description="The store's backend: sqlite or postgresql.")
