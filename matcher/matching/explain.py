"""Explanations a broker can read: shared key terms, the best-answering sentence, and field fits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matcher.ingest.vocab import Vocab
from matcher.learning.fits import field_fits
from matcher.retrieval.text import char_bigrams, content_words, explain_words, sentences

# words of listing boilerplate that tell a broker nothing about the technology, however rare a small catalogue makes
# them look: actions (实现, 完成), evaluation words (评估, 综合) and transfer terms (技术转让, the field fits say that)
_GENERIC = (
    "实现 结合 完成 评估 综合 进行 通过 采用 利用 具有 能够 需要 希望 要求 目前 现有 解决 提高 提升 降低 "
    "改善 优化 满足 达到 相关 方面 方法 方案 问题 研究 研发 开发 技术 项目 产品 企业 公司 合作 需求 成果 "
    "应用 领域 行业 技术转让 技术许可 技术服务 技术咨询 技术入股 合作开发 委托开发 联合开发 产学研 专利 "
    "发明专利 知识产权 中试 小试 量产 推广 市场 效益 成本"
)
GENERIC_TERMS = frozenset(_GENERIC.split())


def word_idf(idf: Callable[[str], float], word: str) -> float:
    """A word's rarity from a bigram-level IDF table: the mean IDF of its bigrams (or of the word itself)."""
    direct = idf(word)
    if direct:
        return direct
    grams = char_bigrams(word)
    values = [idf(g) for g in grams]
    return sum(values) / len(values) if values else 0.0


def shared_terms(query_text: str, doc_text: str, idf: Callable[[str], float], limit: int = 8) -> list[str]:
    """Words both texts contain, rarest first; generic words (low IDF across the catalogue) are left out."""
    doc_words = set(explain_words(doc_text)) | set(content_words(doc_text))
    seen: dict[str, float] = {}
    for w in content_words(query_text):
        if len(w) < 2 or w.isdigit() or w in seen or w in GENERIC_TERMS or w not in doc_words:
            continue
        seen[w] = word_idf(idf, w)
    if not seen:
        return []
    cutoff = 0.5 * max(seen.values())
    ranked = sorted((w for w, s in seen.items() if s >= cutoff), key=lambda w: -seen[w])
    # drop words contained in a better-ranked longer word (锂电 inside 锂电池)
    out: list[str] = []
    for w in sorted(ranked, key=len, reverse=True):
        if not any(w in o for o in out):
            out.append(w)
    return sorted(out, key=lambda w: -seen[w])[:limit]


def best_sentence(query_text: str, doc_text: str, idf: Callable[[str], float]) -> str:
    """The document sentence that shares the most rare bigrams with the query."""
    q = set(char_bigrams(query_text))
    best, best_score = "", 0.0
    for s in sentences(doc_text):
        score = sum(idf(g) for g in set(char_bigrams(s)) & q)
        if score > best_score:
            best, best_score = s, score
    return best[:300]


def summary(terms: list[str], fits: dict[str, Any], lang: str = "zh", vocab: Vocab | None = None) -> str:
    """One line that sums the explanation up, in Chinese (stored with the candidate) or English (the workbench's
    English mode; names from the vocabulary's codes where the explanation carries them)."""
    if lang == "en":
        return _summary_en(terms, fits, vocab)
    parts = []
    if terms:
        parts.append("共同关键词：" + "、".join(terms[:5]))
    parts.append("同属" + fits["industry"] if fits["industry_match"] else "跨行业（" + fits["industry"] + "）")
    gap = fits["maturity_gap"]
    lo, hi = fits["wanted_trl"]
    if (lo, hi) == (1, 9):
        parts.append(f"成熟度TRL{fits['result_trl']}（需求未限定）")
    elif gap == 0:
        parts.append(f"成熟度TRL{fits['result_trl']}符合要求（{lo}–{hi}）")
    else:
        parts.append(f"成熟度TRL{fits['result_trl']}与要求（{lo}–{hi}）相差{gap}级")
    if fits["modes_match"]:
        parts.append("合作方式一致：" + "、".join(fits["modes_match"]))
    elif fits["modes_compatible"]:
        parts.append("合作方式可兼容：" + "、".join(fits["modes_compatible"]))
    elif fits["modes_fit"] is False:
        parts.append("合作方式不一致")
    if fits["district_match"]:
        parts.append("同一区县")
    return "；".join(parts)


def _summary_en(terms: list[str], fits: dict[str, Any], vocab: Vocab | None) -> str:
    """The summary line in English (shared terms stay as written in the listings)."""
    codes = fits.get("mode_codes") or {}

    def modes(kind: str) -> str:
        if vocab is not None and kind in codes:
            return ", ".join(vocab.transfer_modes.name(m, "en") for m in codes[kind])
        return ", ".join(fits["modes_match" if kind == "match" else "modes_compatible"])

    industry = (vocab.industries.name(fits["industry_code"], "en") if vocab is not None and fits.get("industry_code")
                else fits["industry"])
    parts = []
    if terms:
        parts.append("shared terms: " + ", ".join(terms[:5]))
    parts.append(f"same cluster ({industry})" if fits["industry_match"] else f"another cluster ({industry})")
    gap, (lo, hi), trl = fits["maturity_gap"], fits["wanted_trl"], fits["result_trl"]
    if (lo, hi) == (1, 9):
        parts.append(f"TRL {trl} (the need sets no maturity)")
    elif gap == 0:
        parts.append(f"TRL {trl} within the wanted {lo}–{hi}")
    else:
        parts.append(f"TRL {trl}, {gap} level{'s' if gap > 1 else ''} from the wanted {lo}–{hi}")
    if fits["modes_match"]:
        parts.append("same cooperation mode: " + modes("match"))
    elif fits["modes_compatible"]:
        parts.append("compatible cooperation mode: " + modes("compatible"))
    elif fits["modes_fit"] is False:
        parts.append("cooperation modes differ")
    if fits["district_match"]:
        parts.append("same district")
    return "; ".join(parts)


def explain(need: dict[str, Any], result: dict[str, Any], need_text: str, result_text: str,
            idf: Callable[[str], float], vocab: Vocab) -> dict[str, Any]:
    """The full explanation of one need–result pair."""
    terms = shared_terms(need_text, result_text, idf)
    fits = field_fits(need, result, vocab)
    return {
        "shared_terms": terms,
        "best_sentence": best_sentence(need_text, result_text, idf),
        "fits": fits,
        "summary": summary(terms, fits),
    }
