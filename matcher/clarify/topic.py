"""A research-topic draft from a firm's need (行业难题 → 科研课题), filled from templates — no text generator.

Title 「面向<cluster>的<core problem>关键技术研究」; background from the need's current-state sentences;
objectives from what it asks for; indicators from its quantified target clauses (and challenge indicators);
constraints from its constraint clauses and form fields; teams from its best-matched results.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from matcher.catalogue.indexes import Indexes
from matcher.catalogue.service import Catalogue
from matcher.clarify import cues
from matcher.clarify.check import Clarification
from matcher.clarify.draft import Draft, as_draft
from matcher.clarify.keywords import suggest_keywords
from matcher.errors import Invalid
from matcher.ingest.schemas import NeedIn
from matcher.ingest.vocab import Vocab
from matcher.matching.service import Matching
from matcher.retrieval.text import sentences
from matcher.store import AVAILABLE, Store

if TYPE_CHECKING:
    from matcher.access.policy import Principal
    from matcher.matching.matcher import Match

CLUSTER_FLOOR = 0.3  # a suggested cluster names the topic only from this confidence
_SUFFIX = re.compile(r"(?:的)?(?:问题攻关|技术攻关|攻关|技术难题|难题|问题|技术需求|需求|关键技术|的研究|研究|"
                     r"研发|开发|项目|技术)$")
_BREAK = re.compile(r"[：:，,。；;（(]")
CORE_MAX = 30  # characters of a title kept as the topic's core
_PREFIX = re.compile(r"^(?:关于|寻求|寻找|征集|求购|求|如何|急需|亟需)")


def core_problem(title: str) -> str:
    """The need's title stripped of boilerplate (问题攻关, 技术需求, 关于…), the topic's core; a title that runs on
    into its description (「芯辊寿命提高：现状：…」) is cut at its first break."""
    core = _PREFIX.sub("", (title or "").strip(" 。．.！!？?"))
    head = _BREAK.split(core, maxsplit=1)[0]
    if len(head) >= 4:
        core = head
    core = core[:CORE_MAX]
    for _ in range(3):
        stripped = _SUFFIX.sub("", core)
        if not stripped or stripped == core:
            break
        core = stripped
    return core


def _unique(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in (i.strip(" 。；;，,") for i in items):
        if item and not any(item in o for o in out):
            out = [o for o in out if o not in item] + [item]
    return out


def _markdown(topic: dict[str, Any], need_title: str, need_id: int | None) -> str:
    def bullets(items: list[str], empty: str, numbered: bool = False) -> list[str]:
        if not items:
            return [f"- {empty}"]
        return [f"{i}. {x}" if numbered else f"- {x}" for i, x in enumerate(items, 1)]

    source = f"{need_title}（需求 #{need_id}）" if need_id else need_title
    lines = [f"# {topic['title']}", "", f"**来源需求**：{source}", "", "## 研究背景", "", topic["background"], "",
             "## 研究目标", "", *bullets(topic["objectives"], "（待补充）", numbered=True), "",
             "## 考核指标", "", *bullets(topic["indicators"], "（需求未给出可量化指标，请与企业确认）"), "",
             "## 约束条件", "", *bullets(topic["constraints"], "（无）"), "", "## 建议承担团队", ""]
    if topic["teams"]:
        lines += ["| 成果 | 单位 | 置信度 |", "|---|---|---|"]
        for t in topic["teams"]:
            conf = "—" if t["confidence"] is None else f"{t['confidence']:.2f}"
            lines.append(f"| {t['title']}（#{t['result_id']}） | {t['org'] or '—'} | {conf} |")
    else:
        lines.append("- （暂无匹配成果）")
    return "\n".join(lines) + "\n"


class ResearchTopics:
    """A need turned into a research-topic draft (行业难题 → 科研课题)."""

    def __init__(self, store: Store, vocab: Vocab, indexes: Indexes, catalogue: Catalogue, matching: Matching,
                 clarification: Clarification) -> None:
        self.store = store
        self.indexes = indexes
        self.clarification = clarification
        self.vocab = vocab
        self.catalogue = catalogue
        self.matching = matching

    def topic_area(self, d: Draft, keywords: list[str]) -> tuple[str, str | None]:
        """(what the topic is 面向, cluster code or None): the need's cluster, else a confident suggestion, else its
        two leading keywords."""
        code = d.row.get("industry") or "other"
        if code != "other":
            return self.vocab.industries.name(code), code
        guess = self.clarification.suggest_cluster(d)
        if guess["industry"] and guess["industry"] != "other" and guess["industry_confidence"] >= CLUSTER_FLOOR:
            return guess["industry_name"], guess["industry"]
        area = "与".join(k for k in keywords[:2] if k not in core_problem(d.title))
        return (area or "产业应用"), None

    def _form_constraints(self, d: Draft) -> list[str]:
        row, out = d.row, []
        lo, hi = int(row.get("wanted_trl_min") or 1), int(row.get("wanted_trl_max") or 9)
        if (lo, hi) != (1, 9):
            out.append(f"成果成熟度要求：TRL {lo}–{hi}")
        if row.get("budget"):
            out.append(f"预算：{float(row['budget']):g}万元")
        elif row.get("budget_negotiable"):
            out.append("预算：面议")
        if row.get("deadline"):
            out.append(f"完成期限：{row['deadline']}前")
        modes = [self.vocab.transfer_modes.name(m) for m in row.get("coop_modes") or []]
        if modes:
            out.append("合作方式：" + "、".join(modes))
        if row.get("district"):
            out.append(f"实施地点：{row['district']}")
        return out

    def _teams(self, matches: list[Match]) -> list[dict[str, Any]]:
        org_ids = [m.item["org_id"] for m in matches if m.item.get("org_id")]
        orgs = self.store.get_many("organisations", org_ids) if org_ids else {}
        return [{"result_id": m.id, "title": m.item.get("title") or "",
                 "org": (orgs.get(m.item.get("org_id")) or {}).get("name") or m.item.get("team") or "",
                 "team": m.item.get("team") or "", "trl": m.item.get("trl"),
                 "confidence": None if m.confidence is None else round(float(m.confidence), 4),
                 "score": round(float(m.score), 4)} for m in matches]

    def research_topic(self, need_id: int | None = None, draft: NeedIn | dict[str, Any] | None = None,
                       top_k: int = 5, viewer: Principal | bool | None = True) -> dict[str, Any]:
        """Turn a stored need (`need_id`) or a draft into a research-topic draft: title, background, objectives,
        indicators, constraints, fitting teams (its top matched results) and the markdown. The topic quotes the need in
        full, so a confidential need's topic is for its owner, brokers and admins only (`viewer`; True: the system)."""
        if need_id is not None:
            row = self.catalogue.get_listing("needs", need_id)
            self.catalogue.require_readable("needs", row, viewer)
            d = as_draft(row)
            matches = self.matching.match_need(need_id, top_k=top_k, filters={"status": AVAILABLE["results"]})
        elif draft is not None:
            d = as_draft(draft)
            if not d.document.strip():
                raise Invalid("the draft has no text to build a research topic from")
            matches = self.matching.search(d.document, side="results", top_k=top_k,
                                           filters={"status": AVAILABLE["results"]})
        else:
            raise Invalid("give a need id or a draft")
        text, body = d.text, d.body
        keywords = suggest_keywords(self.indexes.live.sides, text)
        area, code = self.topic_area(d, keywords)
        core = core_problem(d.title) or "、".join(keywords[:3]) or "技术难题"
        state = cues.state_sentences(body)
        described = [s for s in state if not cues.sentence_targets(s)] or state  # the present, not what is wanted
        background = "".join(described) or (sentences(body)[0] if body else "") or f"企业提出“{d.title}”的技术需求。"
        indicators = _unique(cues.target_clauses(text) + cues.target_clauses(d.row.get("challenge_indicators") or ""))
        goals = [s for s in cues.goal_sentences(body) if s not in described or cues.sentence_targets(s)]
        objectives = _unique(([d.row["challenge_goal"]] if d.row.get("challenge_goal") else []) + goals)
        if not objectives:
            objectives = [f"解决{core}问题，形成可在企业应用的技术方案"]
        constraints = _unique([c for c in cues.constraint_clauses(body) if c not in indicators])
        constraints = [c for c in constraints if not any(c in i or i in c for i in indicators)]
        topic = {
            "need_id": d.need_id,
            "title": f"面向{area}的{core}关键技术研究",
            "cluster": code,
            "background": background,
            "objectives": objectives,
            "indicators": indicators,
            "constraints": constraints + self._form_constraints(d),
            "keywords": keywords,
            "teams": self._teams(matches),
        }
        topic["text"] = _markdown(topic, d.title, d.need_id)
        return topic
