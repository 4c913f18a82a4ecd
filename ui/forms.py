"""What a broker reads when a form or an import row is refused: each field by its name on the page, each reason
in the chosen language (pydantic's English messages and the importer's own reasons translated)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from ui.i18n import STRINGS, t

# the listing field → the i18n key of its label on the forms
FIELD_LABELS = {
    "title": "title", "description": "description", "abstract": "abstract", "org": "org", "industry": "cluster",
    "district": "district", "budget": "budget", "price": "price", "deadline": "deadline", "keywords": "keywords",
    "coop_modes": "modes", "transfer_modes": "modes", "wanted_maturity": "wanted_maturity", "maturity": "maturity",
    "trl": "maturity", "wanted_trl_min": "wanted_maturity", "wanted_trl_max": "wanted_maturity",
    "ip_type": "ip_type", "contact": "contact", "reward": "reward", "challenge_goal": "goal",
    "challenge_indicators": "indicators",
}

# pydantic's error types → (Chinese, English), formatted with the error's context
REASONS: dict[str, tuple[str, str]] = {
    "missing": ("必填", "required"),
    "string_too_short": ("不能为空", "must not be empty"),
    "string_too_long": ("太长：最多 {max_length} 个字", "too long: at most {max_length} characters"),
    "greater_than_equal": ("不能小于 {ge}", "must be at least {ge}"),
    "greater_than": ("必须大于 {gt}", "must be above {gt}"),
    "less_than_equal": ("不能大于 {le}", "must be at most {le}"),
    "float_parsing": ("请填写数字", "must be a number"),
    "int_parsing": ("请填写整数", "must be a whole number"),
    "date_from_datetime_parsing": ("日期格式应为 YYYY-MM-DD", "a date must read YYYY-MM-DD"),
}

# the service's own reasons (value errors) → Chinese, by pattern
OWN_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"cannot read amount '(.*)'"), "无法识别金额“{0}”：请填写万元数（如 80），或留空表示面议"),
    (re.compile(r"amount (.*) 万元 is out of range"), "金额 {0} 万元超出范围"),
    (re.compile(r"cannot read date '(.*)'"), "无法识别日期“{0}”：请写成 YYYY-MM-DD"),
    (re.compile(r"'(.*)' is not a valid date"), "“{0}”不是有效日期"),
    (re.compile(r"unknown industry '(.*)'"), "未知的产业集群“{0}”：请从列表中选择"),
    (re.compile(r"unknown (\w+) '(.*)'; allowed"), "未知的取值“{1}”：请从列表中选择"),
    (re.compile(r"keyword '(.*)'… is longer than 50"), "关键词“{0}…”超过 50 个字"),
    (re.compile(r"is (\d+) characters long; at most (\d+)"), "长度 {0} 字，最多 {1} 字"),
    (re.compile(r"wanted_trl_min must not exceed wanted_trl_max"), "期望成熟度的下限不能高于上限"),
    (re.compile(r"cannot read maturity '(.*)'"), "无法识别成熟度“{0}”：请填写 TRL 1–9 或列表中的阶段"),
    (re.compile(r"a challenge needs a goal and indicators"), "揭榜挂帅需要填写攻关目标和考核指标"),
    (re.compile(r"cannot read yes/no value '(.*)'"), "无法识别“{0}”：请填写 是/否"),
    (re.compile(r"an application needs the applying organisation and a proposal"), "揭榜申请需要填写申请单位和揭榜方案"),
    (re.compile(r"a next action needs its date"), "下一步行动需要填写计划日期"),
    (re.compile(r"no title: taken from the text as '(.*)'"), "缺少标题：已从正文截取为“{0}”"),
    (re.compile(r"date '(.*)' read as (.*)"), "日期“{0}”已读作 {1}"),
]


def field_label(field: str, lang: str) -> str:
    """A listing field as the form labels it (the bare field name where the form has no label for it)."""
    key = FIELD_LABELS.get(field)
    return t(key, lang).split("（")[0].split(" (")[0] if key else field


def reason(error: dict[str, Any], lang: str) -> str:
    """One pydantic error's reason in the chosen language."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind in REASONS:
        zh, en = REASONS[kind]
        return (zh if lang == "zh" else en).format(**{k: v for k, v in ctx.items() if isinstance(v, int | float)})
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return own_reason(message, lang)


def own_reason(message: str, lang: str) -> str:
    """One of the service's own (English) reasons, in Chinese where it is known."""
    if lang != "zh":
        return message
    message = re.sub(r"^\w+: ", "", message)  # "budget: cannot read …" — the field is named already
    for pattern, zh in OWN_REASONS:
        m = pattern.search(message)
        if m:
            return zh.format(*m.groups())
    return message


def messages(exc: Exception, lang: str) -> dict[str, str]:
    """Field → reason for a refused form (field "" when the reason concerns the whole listing)."""
    if not isinstance(exc, ValidationError):
        return {"": own_reason(str(exc), lang)}
    out: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        out.setdefault(field, reason(error, lang))
    return out


def lines(found: dict[str, str], lang: str) -> str:
    """The reasons as a Markdown list, each under its field's label."""
    return "\n".join(f"- **{field_label(f, lang) if f else '—'}**：{why}" if lang == "zh"
                     else f"- **{field_label(f, lang) if f else '—'}**: {why}" for f, why in found.items())


CJK = re.compile(r"[\u4e00-\u9fff]")
STATUS_KEYS = {"pending": "pending", "confirmed": "confirmed", "rejected": "rejected", "submitted": "app_submitted",
               "shortlisted": "app_shortlisted", "declined": "app_declined"}


def _param(name: str, value: Any, lang: str, vocab: Any) -> Any:
    """An error's parameter as the page names it: a stage or status by its label, never its code."""
    if vocab is not None and name in ("stage", "target"):
        return vocab.pairing_stages.name(str(value), lang)
    if name == "status" and str(value) in STATUS_KEYS:
        return t(STATUS_KEYS[str(value)], lang)
    return value


def error_text(exc: Exception, lang: str, vocab: Any = None) -> str:
    """What a broker reads when an action is refused: the error's own message in the chosen language (from its
    key), a refused form's fields, or a known reason translated; in Chinese, never an English sentence."""
    key = getattr(exc, "key", None)
    if key and f"err_{key}" in STRINGS:
        params = {k: _param(k, v, lang, vocab) for k, v in (getattr(exc, "params", None) or {}).items()}
        return t(f"err_{key}", lang, **params)
    if isinstance(exc, ValidationError):
        return lines(messages(exc, lang), lang)
    text = own_reason(str(exc), lang)
    if lang == "zh" and not CJK.search(text):
        return t("err_generic", lang)
    return text
