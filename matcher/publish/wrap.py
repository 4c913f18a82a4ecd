"""Line breaking of Chinese text for the PDF: greedy by width, Latin words and numbers kept whole, and the
Chinese rules (禁则) that no line starts with a closing mark (，。、）…) nor ends with an opening one (（《“)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,%@_\-/:+#&=?~'*]*|[ \t]+|.", re.S)
NO_START = set("，。、；：？！）》」』】〕〉”’…—·%,.;:?!)]}")
NO_END = set("（《「『【〔〈“‘([{")


def wrap(text: str, width: float, measure: Callable[[str], float], indent: float = 0.0) -> list[str]:
    """`text` as lines no wider than `width` (the first `indent` narrower) by `measure`; newlines are kept."""
    lines: list[str] = []
    for para in text.split("\n"):
        tokens = deque(TOKEN.findall(para))
        line: list[str] = []
        used = 0.0
        while tokens:
            tok = tokens.popleft()
            limit = width - (indent if not lines else 0.0)
            size = measure(tok)
            if used + size <= limit:
                if line or not tok.isspace():
                    line.append(tok)
                    used += size
                continue
            if tok.isspace():  # a space at the end of a line is dropped
                lines.append("".join(line).rstrip())
                line, used = [], 0.0
                continue
            if not line:  # a word wider than a line: split it
                chars = list(tok)
                tokens.extendleft(reversed(chars[1:]))
                line, used = [chars[0]], measure(chars[0])
                continue
            carry: list[str] = []
            if tok[0] in NO_START and len(line) > 1:  # the mark takes the character before it to the next line
                carry.insert(0, line.pop())
            while len(line) > 1 and line[-1][-1:] in NO_END:
                carry.insert(0, line.pop())
            lines.append("".join(line).rstrip())
            while carry and carry[0].isspace():
                carry.pop(0)
            line = carry
            used = sum(measure(t) for t in line)
            tokens.appendleft(tok)
        lines.append("".join(line).rstrip())
    return lines
