"""Text preparation for Chinese listings: tokenisers (character bigrams, jieba words) and sentence splitting."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-\+\.]*[A-Za-z0-9\+]|[A-Za-z]|\d+(?:\.\d+)?")
_SENTENCE = re.compile(r"(?<=[。！？!?；;\n])")
_PUNCT = re.compile(r"^[\W_]+$")


def latin_words(text: str) -> list[str]:
    """Latin words and numbers, lower-cased (e.g. `pcb`, `5g`, `304`)."""
    return [w.lower() for w in _WORD.findall(text)]


def char_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of each run of Chinese characters, plus Latin words and numbers."""
    tokens: list[str] = []
    for run in _CJK.findall(text):
        if len(run) == 1:
            tokens.append(run)
        else:
            tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    tokens.extend(latin_words(text))
    return tokens


def chars(text: str) -> list[str]:
    """Single Chinese characters, plus Latin words and numbers (the tokenisation txtai found best on bdci-dev)."""
    return [c for run in _CJK.findall(text) for c in run] + latin_words(text)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def jieba_words(text: str) -> list[str]:
    """jieba words (search mode keeps the parts of long compounds), lower-cased, without punctuation."""
    words = _jieba().lcut_for_search(text)
    return [w.lower() for w in (w.strip() for w in words) if w and not _PUNCT.match(w)]


# part-of-speech tags of function words (numerals, particles, pronouns, adverbs, conjunctions, time, direction)
_FUNCTION_TAGS = ("m", "u", "x", "c", "p", "d", "r", "t", "f", "e", "y", "o", "q", "w", "z")


@lru_cache(maxsize=1)
def _explain_tagger():
    """A part-of-speech tagger of its own, so terms learned from the catalogue never change BM25's tokens."""
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return pseg.POSTokenizer(tokenizer), threading.Lock()


def learn_terms(terms: Iterable[str]) -> int:
    """Teach the explanation tagger the catalogue's own terms (listing keywords), so 「32位车规MCU」 yields 车规,
    not 位车. Returns how many terms were new."""
    tagger, lock = _explain_tagger()
    added = 0
    with lock:
        known = tagger.tokenizer.FREQ
        for term in terms:
            term = (term or "").strip()
            if 2 <= len(term) <= 12 and _CJK.search(term) and not known.get(term):
                tagger.tokenizer.add_word(term, tag="n")
                added += 1
    if added:  # texts tagged before may cut differently now
        _explain_words.cache_clear()
        _content_words.cache_clear()
    return added


def explain_words(text: str) -> list[str]:
    """Every word of a text as the explanation tagger cuts it (search mode keeps parts of long compounds)."""
    return list(_explain_words(text))


def content_words(text: str) -> list[str]:
    """Content words of a text (nouns, verbs, names, Latin terms), lower-cased, in order, for explanations."""
    return list(_content_words(text))


# Tagging is the slow part of an explanation (jieba's part-of-speech HMM: ~4 ms per listing text, ~30 ms for a long
# need, which a match explains against each of its 10 results): each text is tagged once and remembered, until
# the tagger learns new terms.
@lru_cache(maxsize=8192)
def _explain_words(text: str) -> tuple[str, ...]:
    tagger, _ = _explain_tagger()
    return tuple(w.lower() for w in (w.strip() for w in tagger.tokenizer.lcut_for_search(text))
                 if w and not _PUNCT.match(w))


@lru_cache(maxsize=8192)
def _content_words(text: str) -> tuple[str, ...]:
    tagger, _ = _explain_tagger()
    out = []
    for pair in tagger.lcut(text):
        w = pair.word.strip().lower()
        if w and not _PUNCT.match(w) and not pair.flag.startswith(_FUNCTION_TAGS):
            out.append(w)
    return tuple(out)


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"bigram": char_bigrams, "jieba": jieba_words, "char": chars}


def sentences(text: str) -> list[str]:
    """Sentences of a text, split after 。！？；; and line breaks; empty pieces dropped."""
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]
