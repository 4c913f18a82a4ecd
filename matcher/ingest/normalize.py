"""Pure functions that turn field values as real platforms write them into canonical values.

Each raises `ValueError` with a message a user can act on; importers and schemas turn it into a report row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from matcher.ingest.vocab import Vocab, Vocabulary

NEGOTIABLE = {"面议", "议价", "价格面议", "面谈", "协商", "待定", "negotiable", "-", "—", "无"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LIST_SPLIT = re.compile(r"[,，、;；/|\n]+")
_SPACES = re.compile(r"[ \t\u3000]+")


def clean_text(value: object, max_len: int | None = None, field: str = "text") -> str:
    """Strip NUL and control characters, normalise width and spaces; refuse text over `max_len`."""
    if value is None:
        return ""
    text = str(value)
    text = _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text).strip()
    if max_len is not None and len(text) > max_len:
        raise ValueError(f"{field} is {len(text)} characters long; at most {max_len} are allowed")
    return text


def is_blank(value: object) -> bool:
    """True for None, empty strings, NaN and whitespace-only values."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


_MONEY = re.compile(r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>亿元|亿|万元|万|千元|元|w|k)?(?:以上|以内|左右)?$", re.I)


def parse_money(value: object) -> tuple[float | None, bool]:
    """(amount in 万元, negotiable) from 80 / "80万" / "1.2亿" / "50000元" / "面议"; blank means negotiable."""
    if is_blank(value):
        return None, True
    if isinstance(value, bool):
        raise ValueError("expected an amount in 万元 or 面议, got a boolean")
    if isinstance(value, int | float):
        amount = float(value)
    else:
        text = clean_text(value).replace(",", "").replace("，", "").replace("￥", "").replace("¥", "")
        if text in NEGOTIABLE or "面议" in text:
            return None, True
        low, sep, _high = text.partition("-")
        if sep and low:
            text = low  # a range such as "100.0万元-200.0万元" is stored as its lower bound
        m = _MONEY.match(text)
        if not m:
            raise ValueError(f"cannot read amount {text!r}: write a number of 万元 (e.g. 80) or 面议")
        amount = float(m.group("num"))
        unit = (m.group("unit") or "万").lower()
        amount *= {"亿元": 1e4, "亿": 1e4, "万元": 1, "万": 1, "w": 1, "千元": 0.1, "k": 0.1, "元": 1e-4}[unit]
    if amount < 0 or amount > 1e8:
        raise ValueError(f"amount {amount} 万元 is out of range (0 to 100,000,000 万元)")
    return round(amount, 4), False


_DATE_PATTERNS = [
    re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]


def parse_date(value: object) -> str | None:
    """ISO date from 2020-01-13 / 2020/1/13 / 2020年1月13日 / 20200113 / "2020-01-1310:49:39.0" / datetime."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = clean_text(value)
    for pat in _DATE_PATTERNS:
        m = pat.match(text)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            # "2020-01-1310:49:39.0": the day is glued to the hour; the pattern took 2 digits at most
            try:
                return dt.date(y, mo, d).isoformat()
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a valid date ({exc})") from None
    raise ValueError(f"cannot read date {text!r}: use YYYY-MM-DD")


def parse_period(value: object) -> tuple[str | None, str | None]:
    """(start, end) of a validity period such as "2020-01-13 至 2021-01-13"."""
    if is_blank(value):
        return None, None
    parts = re.split(r"至|~|～|—|到", clean_text(value))
    if len(parts) == 1:
        return None, parse_date(parts[0])
    return parse_date(parts[0].strip()), parse_date(parts[-1].strip())


def split_list(value: object) -> list[str]:
    """Items of a comma-, 、- or semicolon-joined string (or a list), trimmed, unique, in order."""
    if is_blank(value):
        return []
    items: Iterable[object] = value if isinstance(value, list | tuple) else _LIST_SPLIT.split(str(value))
    out: list[str] = []
    for item in items:
        text = clean_text(item)
        if text and text not in out:
            out.append(text)
    return out


def parse_codes(value: object, vocabulary: Vocabulary, field: str) -> list[str]:
    """Codes for a list of names, codes or aliases; unknown items are an error naming the allowed values."""
    codes: list[str] = []
    for item in split_list(value):
        found = [vocabulary.resolve(item)]
        if found[0] is None:
            found = _segment(item, vocabulary)
        if not found or None in found:
            allowed = "、".join(vocabulary.names.values())
            raise ValueError(f"unknown {field} {item!r}; allowed: {allowed}")
        for code in found:
            if code not in codes:
                codes.append(code)
    return codes


def _segment(text: str, vocabulary: Vocabulary) -> list[str]:
    """Codes of names glued together without separators (完全转让许可转让技术入股), longest match first."""
    keys = sorted(vocabulary.lookup, key=len, reverse=True)
    out: list[str] = []
    rest = "".join(text.split()).lower()
    while rest:
        key = next((k for k in keys if len(k) > 1 and rest.startswith(k)), None)
        if key is None:
            return []
        out.append(vocabulary.lookup[key])
        rest = rest[len(key):]
    return out


def parse_code(value: object, vocabulary: Vocabulary, field: str) -> str:
    """One code for a name, code or alias."""
    code = vocabulary.resolve(clean_text(value))
    if code is None:
        allowed = "、".join(vocabulary.names.values())
        raise ValueError(f"unknown {field} {clean_text(value)!r}; allowed: {allowed}")
    return code


_TRL = re.compile(r"^(?:trl)?\s*(\d)(?:\s*[-~～至到]\s*(?:trl)?\s*(\d))?$", re.I)


def parse_maturity(value: object, vocab: Vocab) -> tuple[int, int, str | None]:
    """(trl_min, trl_max, label) from a maturity label (通过中试), a TRL ("TRL 6", 6) or a range ("6-8")."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else clean_text(value)
    level = vocab.maturity_level(text)
    if level:
        return level.trl_min, level.trl_max, level.label
    m = _TRL.match(text)
    if m:
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        if not (1 <= lo <= hi <= 9):
            raise ValueError(f"TRL range {text!r} must lie within 1–9, low before high")
        return lo, hi, None
    labels = "、".join(m.label for m in vocab.maturity)
    raise ValueError(f"cannot read maturity {text!r}: use a TRL 1–9, a range such as 6-8, or one of {labels}")


def label_for_trl(trl: int, vocab: Vocab) -> str:
    """The coarse maturity label whose range holds `trl` (the highest such label)."""
    best = vocab.maturity[0].label
    for level in vocab.maturity:
        if level.trl_min <= trl <= level.trl_max:
            best = level.label
    return best


def parse_bool(value: object) -> bool:
    """Booleans from true/false, 是/否, 1/0, yes/no."""
    if isinstance(value, bool):
        return value
    if is_blank(value):
        return False
    text = clean_text(value).lower()
    if text in {"1", "true", "yes", "y", "是", "对", "t"}:
        return True
    if text in {"0", "false", "no", "n", "否", "f"}:
        return False
    raise ValueError(f"cannot read yes/no value {text!r}: use true/false or 是/否")
