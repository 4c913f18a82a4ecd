"""Keywords to suggest for a draft: its most informative terms, rarest across the catalogue first.

Words are cut by the explanation tagger (which has learned the catalogue's own keywords), generic listing words
(explain.GENERIC_TERMS, plus a few words of need boilerplate) are dropped, and the rest ranked by their IDF in the
live BM25 indexes of both sides, the way explanations rank shared terms. A word the catalogue has never seen counts
as the rarest.
"""

from __future__ import annotations

import math
from collections import Counter

from matcher.clarify.completeness import informative_terms
from matcher.matching.explain import word_idf
from matcher.matching.matcher import Matcher
from matcher.retrieval.ranking import CatalogueSide
from matcher.retrieval.text import content_words, latin_words

# the way needs are written, not what they are about
_FORM = (
    "我司 我公司 本公司 我们 寻求 寻找 引入 建设 部署 发现 希望 期望 亟需 急需 拟 计划 "
    "目的 目标 主要 工作 情况 过程 使用 生产 制造 加工 设计 能力 水平 质量 效果 作用 功能 "
    "工艺 材料 设备 系统 装置 标准 要求 指标 问题 现状 目前 以上 以下 以内 左右 大幅 有效 "
    "显著 国内 国外 国际 先进 传统 新型 一种 产生 提前 车间 工业 含量 国标 降低成本 "
    "提高效率 延长 缩短 增加 减少 保证 确保 形成 建立 实际 具体 一定 较好 较高 较低 保持 "
    "想要 不能 非常 容易 帮助 升级 改进 改善 结束 受理 申报 现在 能够 可以 进行 相应 "
    "相关技术 技术专家 专家 导致 非常容易")
FORM_WORDS = frozenset(_FORM.split())
MAX_KEYWORDS = 8
CUTOFF = 0.5  # share of the best word's weight a keyword needs


def suggest_keywords(sides: dict[str, CatalogueSide], text: str, limit: int = MAX_KEYWORDS) -> list[str]:
    """Up to `limit` informative terms of a text, rarest first (by their IDF in the live indexes' `sides`); words
    inside a better longer one are left out."""
    words = [w for w in informative_terms(text) if w not in FORM_WORDS and not _number_like(w)]
    if not words:
        return []
    idf = Matcher.idf(sides)
    total = sum(s.lexical.size(public=True) for s in sides.values())
    unseen = math.log1p((total + 0.5) / 0.5)  # BM25's IDF of a term no listing holds
    wanted = set(words)
    counts = Counter(w for w in content_words(text) if w in wanted)
    weight = {w: (word_idf(idf, w) or unseen) * (1 + 0.25 * min(3, counts[w] - 1)) for w in counts}
    cutoff = CUTOFF * max(weight.values())  # as explanations do: words far commoner than the best are noise
    ranked = sorted((w for w in weight if weight[w] >= cutoff), key=lambda w: -weight[w])
    out: list[str] = []
    for w in sorted(ranked[:limit * 3], key=len, reverse=True):
        if not any(w in o for o in out):
            out.append(w)
    return sorted(out, key=lambda w: -weight[w])[:limit]


def _number_like(word: str) -> bool:
    """Quantities and codes cut as words (30%, 0.03, 2027) are no keywords."""
    return not any(ch.isalpha() for ch in word) or (latin_words(word) == [word] and word[:1].isdigit())
