"""How completely a need is specified: one credit 0..1 per field a well-specified need has, weighted into one score.

The weights (one place, summing to 1) follow what a research team needs to judge a need and what retrieval can use:

| field | weight | full credit | partial credit |
|---|---|---|---|
| indicators | 0.25 | a clause with a quantified target (降至6%以下, ≥9个月, 精度0.01mm) | 0.5: no target |
| current_state | 0.15 | a sentence on what is done now / what goes wrong (目前…, 现有…, 传统…) | — |
| constraints | 0.10 | a sentence on cost ceilings, compatibility, standards, conditions | — |
| substance | 0.15 | ≥ 100 characters of description and ≥ 10 informative terms | in proportion to both |
| trl | 0.10 | a wanted TRL range other than the default 1–9 | 0.5: a maturity word in the text |
| budget | 0.10 | a budget | 0.5: explicitly negotiable (面议 given, or said) |
| deadline | 0.05 | a deadline, or a time frame in the text (6个月内) | — |
| cluster | 0.10 | a cluster other than 其他 | — |

A need scoring below INCOMPLETE_BELOW (0.6) is flagged incomplete: a need whose text has every element (0.65; up to
0.75 with a time frame and a maturity word) passes with blank form fields, one whose text has none passes with no
set of form fields (0.35 at most); a title and a negotiable budget alone score under 0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matcher.clarify import cues
from matcher.clarify.draft import Draft
from matcher.matching.explain import GENERIC_TERMS
from matcher.retrieval.text import content_words

WEIGHTS: dict[str, float] = {
    "indicators": 0.25,
    "current_state": 0.15,
    "constraints": 0.10,
    "substance": 0.15,
    "trl": 0.10,
    "budget": 0.10,
    "deadline": 0.05,
    "cluster": 0.10,
}
INCOMPLETE_BELOW = 0.6
SUBSTANCE_CHARS = 100  # characters of description (body) for full length credit
SUBSTANCE_TERMS = 10  # distinct informative terms for full term credit

# what the form asks for each missing field, in Chinese and English (the UI shows it next to the field)
PROMPTS: dict[str, tuple[str, str]] = {
    "indicators": ("请给出可量化的目标指标（数值＋单位或百分比），例如要达到的精度、寿命、良率、含量或成本降幅。",
                   "Give measurable target indicators (a number with its unit, or a percentage): the precision, "
                   "lifetime, yield, content or cost reduction to reach."),
    "current_state": ("请描述现状：目前采用什么工艺、设备或材料，规模多大，存在什么问题，已经尝试过哪些办法。",
                      "Describe the current state: the process, equipment or material used now, the scale, what "
                      "goes wrong, what has been tried."),
    "constraints": ("请说明约束条件：成本上限、需兼容的现有设备或产线、须符合的标准、不能改变的工艺或原料。",
                    "State the constraints: a cost ceiling, equipment or lines to stay compatible with, standards "
                    "to meet, processes or materials that cannot change."),
    "substance": ("描述过于简短：请补充具体的产品、工艺、材料或应用场景，以及要解决的技术问题。",
                  "The description is too short: add the product, process, material or application and the "
                  "technical problem to solve."),
    "trl": ("请选择期望的技术成熟度（如：已有样品、通过中试、可以量产），以便排除过早或过晚的成果。",
            "Choose the wanted maturity (a prototype, pilot-proven, ready for production) so that results too "
            "early or too late are left out."),
    "budget": ("请填写预算（万元）或预算区间；确实无法确定时可选“面议”。",
               "Give a budget (10k yuan) or a range; choose negotiable only if it truly cannot be said."),
    "deadline": ("请填写期望完成时间（截止日期），便于院校评估研发周期。",
                 "Give the wanted completion date, so universities can judge the research time."),
    "cluster": ("请选择所属产业集群，便于推送给对口的院校团队和技术经纪人。",
                "Choose the industry cluster, so the need reaches the right teams and brokers."),
}
# … and for a field with partial credit
PARTIAL_PROMPTS: dict[str, tuple[str, str]] = {
    "indicators": ("文中有数字但没有目标：请写明要达到的指标，如“不良率由3%降至1%以下”。",
                   'The text has numbers but no target: say what to reach, e.g. "defect rate from 3% to below 1%".'),
    "substance": ("描述还可以更具体：补充产品、工艺、材料或应用场景等细节。",
                  "The description could be more concrete: add details of the product, process, material or use."),
    "trl": ("文中提到了成熟度，请在表单中选择期望的成熟度范围。",
            "The text mentions a maturity: choose the wanted maturity range in the form."),
    "budget": ("预算为面议；给出大致的预算区间能让院校更快判断是否合作。",
               "The budget is negotiable; a rough range lets universities decide faster."),
}
# used only when no need of the catalogue shows the field
FALLBACK_EXAMPLES: dict[str, str] = {
    "indicators": "将产品不良率由目前的3%降至1%以下，检测精度达到0.01mm。",
    "current_state": "目前采用人工目检，每班需4人，漏检率约5%，夜班问题尤为突出。",
    "constraints": "改造须兼容现有产线，单台设备改造成本不超过20万元，且不影响现有生产节拍。",
    "substance": "我司生产汽车铝合金轮毂，年产30万件，需要一种在线检测轮毂表面气孔和裂纹的方法。",
    "trl": "期望成熟度：通过中试（TRL 6–9）",
    "budget": "预算50万元",
    "deadline": "期望2027-06-30前完成",
    "cluster": "智能装备及智能制造",
}


@dataclass(frozen=True)
class FieldScore:
    """One field's credit and the text that earned it (a sentence, a clause or a field value)."""

    field: str
    credit: float
    evidence: str = ""


def informative_terms(text: str) -> list[str]:
    """Distinct content words of two or more characters that are not generic listing words, in order."""
    seen: dict[str, None] = {}
    for w in content_words(text):
        if len(w) >= 2 and not w.isdigit() and w not in GENERIC_TERMS:
            seen.setdefault(w, None)
    return list(seen)


def _indicators(d: Draft) -> FieldScore:
    quantified = cues.quantified_sentences(d.text)  # sentences with a target first
    if not quantified:
        return FieldScore("indicators", 0.0)
    first = quantified[0]
    return FieldScore("indicators", 1.0 if cues.sentence_targets(first) else 0.5, first)


def _sentence_field(name: str, find: Callable[[str], list[str]]) -> Callable[[Draft], FieldScore]:
    def score(d: Draft) -> FieldScore:
        found = find(d.body)  # a title says what is wanted, not the state or the constraints
        return FieldScore(name, 1.0, found[0]) if found else FieldScore(name, 0.0)
    return score


def _substance(d: Draft) -> FieldScore:
    body = d.body
    terms = informative_terms(d.text)
    credit = 0.5 * min(1.0, len(body) / SUBSTANCE_CHARS) + 0.5 * min(1.0, len(terms) / SUBSTANCE_TERMS)
    return FieldScore("substance", round(credit, 3), body[:120])


def _trl(d: Draft) -> FieldScore:
    lo, hi = int(d.row.get("wanted_trl_min") or 1), int(d.row.get("wanted_trl_max") or 9)
    if (lo, hi) != (1, 9):
        return FieldScore("trl", 1.0, f"TRL {lo}–{hi}")
    word = cues.maturity_mention(d.text)
    return FieldScore("trl", 0.5, word) if word else FieldScore("trl", 0.0)


def _budget(d: Draft) -> FieldScore:
    budget = d.row.get("budget")
    if budget:
        return FieldScore("budget", 1.0, f"预算{float(budget):g}万元")
    if (d.row.get("budget_negotiable") and "budget_negotiable" in d.given) or cues.says_negotiable(d.text):
        return FieldScore("budget", 0.5, "面议")
    return FieldScore("budget", 0.0)


def _deadline(d: Draft) -> FieldScore:
    if d.row.get("deadline"):
        return FieldScore("deadline", 1.0, str(d.row["deadline"]))
    phrase = cues.time_frame(d.text)
    return FieldScore("deadline", 1.0, phrase) if phrase else FieldScore("deadline", 0.0)


def _cluster(d: Draft) -> FieldScore:
    code = d.row.get("industry") or "other"
    return FieldScore("cluster", 0.0) if code == "other" else FieldScore("cluster", 1.0, code)


SCORERS: dict[str, Callable[[Draft], FieldScore]] = {
    "indicators": _indicators,
    "current_state": _sentence_field("current_state", cues.state_sentences),
    "constraints": _sentence_field("constraints", cues.constraint_sentences),
    "substance": _substance,
    "trl": _trl,
    "budget": _budget,
    "deadline": _deadline,
    "cluster": _cluster,
}


def field_scores(d: Draft) -> dict[str, FieldScore]:
    """Every field's credit and evidence, in WEIGHTS order."""
    return {name: SCORERS[name](d) for name in WEIGHTS}


def completeness(scores: dict[str, FieldScore]) -> float:
    """The weighted sum of the fields' credits, 0..1."""
    return round(sum(WEIGHTS[n] * s.credit for n, s in scores.items()), 3)


def score(d: Draft) -> tuple[float, dict[str, FieldScore]]:
    """(completeness, per-field scores) of a draft, with no catalogue look-up (cheap enough for every keystroke)."""
    scores = field_scores(d)
    return completeness(scores), scores


def prompt(field: str, credit: float, lang: str = "zh") -> str:
    """What to ask the author for a field that has no or only partial credit (in Chinese, or English)."""
    pair = PARTIAL_PROMPTS.get(field, PROMPTS[field]) if credit > 0 else PROMPTS[field]
    return pair[1] if lang == "en" else pair[0]
