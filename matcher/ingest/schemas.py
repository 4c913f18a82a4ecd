"""Validated shapes of what enters the catalogue: organisations, needs and results.

Raw values as platforms write them (面议, 通过中试, "技术转让,技术许可", 2020/1/13) are normalised here, so the
importer, the API and the UI share one set of rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from matcher.ingest import normalize as nz
from matcher.ingest.vocab import Vocab, load_vocab
from matcher.settings import get_settings

TITLE_MAX = 200
TEXT_MAX = 20_000
SHORT_MAX = 500
KEYWORDS_MAX = 30


def vocab() -> Vocab:
    """The vocabularies named by the settings."""
    return load_vocab(get_settings().vocab_dir)


def _text(value: Any, limit: int, field: str) -> str:
    return nz.clean_text(value, limit, field)


def _money(value: Any, field: str) -> tuple[float | None, bool]:
    try:
        return nz.parse_money(value)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


def _maturity(value: Any, field: str) -> tuple[int, int, str | None]:
    try:
        return nz.parse_maturity(value, vocab())
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrgIn(_Base):
    """An organisation: firm, university, institute, broker or innovation complex."""

    name: str = Field(min_length=1, max_length=TITLE_MAX, examples=["重庆渝嘉精工齿轮有限公司"])
    kind: str = Field("firm", examples=["firm"], description="firm, university, institute, broker, complex")
    district: str | None = Field(None, examples=["綦江区"])
    industry: str | None = Field(None, examples=["smart_equipment"])
    contact: str = Field("", max_length=SHORT_MAX)
    description: str = Field("", max_length=TEXT_MAX)

    @field_validator("name", "contact", "description", mode="before")
    @classmethod
    def _clean(cls, v: Any, info: Any) -> str:
        return _text(v, TEXT_MAX, info.field_name)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> str:
        return nz.parse_code(v, vocab().org_kinds, "organisation kind")

    @field_validator("district", mode="before")
    @classmethod
    def _district(cls, v: Any) -> str | None:
        return None if nz.is_blank(v) else nz.parse_code(v, vocab().districts, "district")

    @field_validator("industry", mode="before")
    @classmethod
    def _industry(cls, v: Any) -> str | None:
        return None if nz.is_blank(v) else _industry(v)


def _industry(v: Any) -> str:
    code = vocab().industry(nz.clean_text(v))
    if code is None:
        allowed = "、".join(vocab().industries.names.values())
        raise ValueError(f"unknown industry {nz.clean_text(v)!r}; allowed clusters: {allowed}")
    return code


class _Listing(_Base):
    """Fields needs and results share."""

    ref: str | None = Field(None, max_length=100, description="Your own id for this listing (unique).")
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    org: str | None = Field(None, max_length=TITLE_MAX, description="Organisation name (created if new).")
    industry: str = Field("other", description="Cluster code or name of the 33618 taxonomy.")
    district: str | None = Field(None, description="District or county of Chongqing.")
    keywords: list[str] = Field(default_factory=list, max_length=KEYWORDS_MAX)
    contact: str = Field("", max_length=SHORT_MAX)
    posted_at: str | None = Field(None, description="Date posted, YYYY-MM-DD.")

    @field_validator("ref", "org", mode="before")
    @classmethod
    def _short(cls, v: Any, info: Any) -> str | None:
        return None if nz.is_blank(v) else _text(v, TITLE_MAX, info.field_name)

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, v: Any) -> str:
        return _text(v, TITLE_MAX, "title")

    @field_validator("contact", mode="before")
    @classmethod
    def _contact(cls, v: Any) -> str:
        return _text(v, SHORT_MAX, "contact")

    @field_validator("industry", mode="before")
    @classmethod
    def _industry(cls, v: Any) -> str:
        return "other" if nz.is_blank(v) else _industry(v)

    @field_validator("district", mode="before")
    @classmethod
    def _district(cls, v: Any) -> str | None:
        return None if nz.is_blank(v) else nz.parse_code(v, vocab().districts, "district")

    @field_validator("keywords", mode="before")
    @classmethod
    def _keywords(cls, v: Any) -> list[str]:
        items = nz.split_list(v)
        for item in items:
            if len(item) > 50:
                raise ValueError(f"keyword {item[:20]!r}… is longer than 50 characters")
        return items

    @field_validator("posted_at", mode="before")
    @classmethod
    def _date(cls, v: Any) -> str | None:
        return nz.parse_date(v)


class NeedIn(_Listing):
    """A firm's technology need (技术需求), possibly published as a 揭榜挂帅 challenge."""

    description: str = Field("", max_length=TEXT_MAX)
    coop_modes: list[str] = Field(default_factory=list, description="Wanted cooperation modes (codes).")
    budget: float | None = Field(None, ge=0, description="Budget in 万元; empty means 面议.")
    budget_negotiable: bool = True
    deadline: str | None = Field(None, description="Deadline, YYYY-MM-DD.")
    wanted_trl_min: int = Field(1, ge=1, le=9)
    wanted_trl_max: int = Field(9, ge=1, le=9)
    confidentiality: str = Field("public", description="public, or brokers (only owner, brokers and admins).")
    status: str = Field("open")
    is_challenge: bool = False
    reward: float | None = Field(None, ge=0, description="Challenge reward in 万元.")
    challenge_goal: str = Field("", max_length=TEXT_MAX)
    challenge_indicators: str = Field("", max_length=TEXT_MAX)

    @model_validator(mode="before")
    @classmethod
    def _raw(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "budget" in data and not isinstance(data["budget"], int | float | type(None)):
            amount, negotiable = _money(data["budget"], "budget")
            data["budget"] = amount
            data.setdefault("budget_negotiable", negotiable)
        elif data.get("budget") is not None:
            data.setdefault("budget_negotiable", False)
        if "wanted_maturity" in data:
            raw = data.pop("wanted_maturity")
            if not nz.is_blank(raw):
                lo, hi, label = _maturity(raw, "wanted_maturity")
                data.setdefault("wanted_trl_min", lo)
                data.setdefault("wanted_trl_max", 9 if label is not None else hi)
        if "reward" in data and isinstance(data["reward"], str):
            data["reward"] = _money(data["reward"], "reward")[0]
        return data

    @field_validator("description", "challenge_goal", "challenge_indicators", mode="before")
    @classmethod
    def _long(cls, v: Any, info: Any) -> str:
        return _text(v, TEXT_MAX, info.field_name)

    @field_validator("coop_modes", mode="before")
    @classmethod
    def _modes(cls, v: Any) -> list[str]:
        return nz.parse_codes(v, vocab().transfer_modes, "cooperation mode")

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, v: Any) -> str | None:
        return nz.parse_date(v)

    @field_validator("confidentiality", mode="before")
    @classmethod
    def _conf(cls, v: Any) -> str:
        return "public" if nz.is_blank(v) else nz.parse_code(v, vocab().confidentiality, "confidentiality")

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: Any) -> str:
        return "open" if nz.is_blank(v) else nz.parse_code(v, vocab().need_statuses, "need status")

    @field_validator("is_challenge", "budget_negotiable", mode="before")
    @classmethod
    def _bool(cls, v: Any) -> bool:
        return nz.parse_bool(v)

    @model_validator(mode="after")
    def _consistent(self) -> NeedIn:
        if self.wanted_trl_min > self.wanted_trl_max:
            raise ValueError("wanted_trl_min must not exceed wanted_trl_max")
        if self.budget is not None:
            self.budget_negotiable = False
        return self


class ResultIn(_Listing):
    """A research result (科技成果) listed by a university or institute."""

    abstract: str = Field("", max_length=TEXT_MAX)
    team: str = Field("", max_length=SHORT_MAX)
    trl: int = Field(3, ge=1, le=9, description="Technology readiness level 1–9 (GB/T 22900-2022).")
    maturity_label: str | None = Field(None, description="The coarse platform label the TRL came from.")
    ip_type: str = Field("know_how")
    patent_no: str = Field("", max_length=SHORT_MAX)
    transfer_modes: list[str] = Field(default_factory=list)
    price: float | None = Field(None, ge=0, description="Asking price in 万元; empty means 面议.")
    price_negotiable: bool = True
    application_fields: str = Field("", max_length=TEXT_MAX)
    status: str = Field("listed")

    @model_validator(mode="before")
    @classmethod
    def _raw(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "price" in data and not isinstance(data["price"], int | float | type(None)):
            amount, negotiable = _money(data["price"], "price")
            data["price"] = amount
            data.setdefault("price_negotiable", negotiable)
        elif data.get("price") is not None:
            data.setdefault("price_negotiable", False)
        raw = data.pop("maturity", None)
        if not nz.is_blank(raw):
            lo, hi, label = _maturity(raw, "maturity")
            if label:
                data.setdefault("maturity_label", label)
                level = vocab().maturity_level(label)
                data.setdefault("trl", level.trl if level else lo)
            else:
                data.setdefault("trl", hi)
        return data

    @field_validator("abstract", "application_fields", mode="before")
    @classmethod
    def _long(cls, v: Any, info: Any) -> str:
        return _text(v, TEXT_MAX, info.field_name)

    @field_validator("team", "patent_no", mode="before")
    @classmethod
    def _shorttext(cls, v: Any, info: Any) -> str:
        return _text(v, SHORT_MAX, info.field_name)

    @field_validator("ip_type", mode="before")
    @classmethod
    def _ip(cls, v: Any) -> str:
        return "know_how" if nz.is_blank(v) else nz.parse_code(v, vocab().ip_types, "IP type")

    @field_validator("transfer_modes", mode="before")
    @classmethod
    def _modes(cls, v: Any) -> list[str]:
        return nz.parse_codes(v, vocab().transfer_modes, "transfer mode")

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, v: Any) -> str:
        return "listed" if nz.is_blank(v) else nz.parse_code(v, vocab().result_statuses, "result status")

    @field_validator("price_negotiable", mode="before")
    @classmethod
    def _bool(cls, v: Any) -> bool:
        return nz.parse_bool(v)

    @model_validator(mode="after")
    def _consistent(self) -> ResultIn:
        if self.maturity_label is None:
            self.maturity_label = nz.label_for_trl(self.trl, vocab())
        if self.price is not None:
            self.price_negotiable = False
        return self
