"""One schema family per listing: what enters the catalogue, and what is shown of it.

`NeedIn` / `ResultIn` / `OrgIn` take rows as platforms write them (面议, 通过中试, "技术转让,技术许可", 2020/1/13)
and normalise them — the importer, the workbench's forms and the catalogue service validate with them. The API's
forms are the same listings, strictly typed (codes, JSON numbers, YYYY-MM-DD dates): `NeedCreate` / `NeedUpdate`
in, `NeedPublic` out (`redacted` says whether confidential fields were withheld), and the same for results. Every
field both kinds share is declared once below (`Title`, `Keywords`, `IsoDate`, money, TRL, …), so the two cannot
drift; tests/test_schemas.py checks that whatever the API accepts, the importer accepts with the same values.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from matcher.ingest import normalize as nz
from matcher.ingest.vocab import Vocab, load_vocab
from matcher.settings import get_settings

TITLE_MAX = 200
TEXT_MAX = 20_000
SHORT_MAX = 500
KEYWORDS_MAX = 30
KEYWORD_CHARS = 50
MODES_MAX = 9  # cooperation or transfer modes a listing names
MONEY_MAX = 1e8  # 万元
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _real_date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is no calendar date (YYYY-MM-DD)") from None
    return value


def _short_keywords(items: list[str]) -> list[str]:
    for item in items:
        if len(item) > KEYWORD_CHARS:
            raise ValueError(f"keyword {item[:20]!r}… is longer than {KEYWORD_CHARS} characters")
    return items


# the fields both kinds of form share, declared once
Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX)]
Ref = Annotated[str, Field(max_length=100, description="Your own id for this listing (unique).")]
IsoDate = Annotated[str, Field(pattern=ISO_DATE, json_schema_extra={"format": "date"},
                               description="A date, YYYY-MM-DD."), AfterValidator(_real_date)]
Keywords = Annotated[list[str], Field(max_length=KEYWORDS_MAX), AfterValidator(_short_keywords)]
Amount = Annotated[float, Field(ge=0, le=MONEY_MAX)]
Trl = Annotated[int, Field(ge=1, le=9)]
MONEY = Field(default=None, ge=0, le=MONEY_MAX, description="万元; null means 面议 (negotiable)")
IdField = Annotated[int, Field(ge=1, le=2**53)]


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

    ref: Ref | None = None
    title: Title
    org: str | None = Field(None, max_length=TITLE_MAX, description="Organisation name (created if new).")
    industry: str = Field("other", description="Cluster code or name of the 33618 taxonomy.")
    district: str | None = Field(None, description="District or county of Chongqing.")
    keywords: Keywords = []
    contact: str = Field("", max_length=SHORT_MAX)
    posted_at: IsoDate | None = None

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
        return nz.split_list(v)

    @field_validator("posted_at", mode="before")
    @classmethod
    def _date(cls, v: Any) -> str | None:
        return nz.parse_date(v)


class NeedIn(_Listing):
    """A firm's technology need (技术需求), possibly published as a 揭榜挂帅 challenge."""

    description: str = Field("", max_length=TEXT_MAX)
    coop_modes: list[str] = Field(default_factory=list, max_length=MODES_MAX, description="Wanted cooperation modes.")
    budget: Amount | None = Field(None, description="Budget in 万元; empty means 面议.")
    budget_negotiable: bool = True
    deadline: IsoDate | None = None
    wanted_trl_min: Trl = 1
    wanted_trl_max: Trl = 9
    confidentiality: str = Field("public", description="public, or brokers (only owner, brokers and admins).")
    status: str = Field("open")
    is_challenge: bool = False
    reward: Amount | None = Field(None, description="Challenge reward in 万元.")
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
    trl: Trl = Field(3, description="Technology readiness level 1–9 (GB/T 22900-2022).")
    maturity_label: str | None = Field(None, description="The coarse platform label the TRL came from.")
    ip_type: str = Field("know_how")
    patent_no: str = Field("", max_length=SHORT_MAX)
    transfer_modes: list[str] = Field(default_factory=list, max_length=MODES_MAX)
    price: Amount | None = Field(None, description="Asking price in 万元; empty means 面议.")
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


# -- the API's forms: the same listings, strictly typed (codes, JSON numbers, ISO dates) ----------------------
_v = vocab()
Industry = Literal[tuple(_v.industries.codes)]  # type: ignore[valid-type]
District = Literal[tuple(_v.districts.codes)]  # type: ignore[valid-type]
Mode = Literal[tuple(_v.transfer_modes.codes)]  # type: ignore[valid-type]
IPType = Literal[tuple(_v.ip_types.codes)]  # type: ignore[valid-type]
NeedStatus = Literal[tuple(_v.need_statuses.codes)]  # type: ignore[valid-type]
ResultStatus = Literal[tuple(_v.result_statuses.codes)]  # type: ignore[valid-type]
Confidentiality = Literal[tuple(_v.confidentiality.codes)]  # type: ignore[valid-type]
RejectReason = Literal[tuple(_v.reject_reasons.codes)]  # type: ignore[valid-type]
Stage = Literal[tuple(_v.pairing_stages.codes)]  # type: ignore[valid-type]
OrgKind = Literal[tuple(_v.org_kinds.codes)]  # type: ignore[valid-type]


def _has(annotation: Any, types: tuple[type, ...]) -> bool:
    """Whether a field's type is one of `types` (or an optional one, or a list of them)."""
    if annotation in types:
        return True
    return any(_has(a, types) for a in get_args(annotation))


class Strict(BaseModel):
    """Request bodies: unknown fields refused, no silent type coercion (a number is not a date or a string)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode would turn "5" or true into 5; a JSON API should not
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                values = value if isinstance(value, list) else [value]
                if _has(field.annotation, (int, float)) and any(isinstance(v, str | bool) for v in values):
                    raise ValueError(f"{name}: expected a JSON number, not a string or boolean")
        return data


class Patch(Strict):
    """A partial update: absent fields stay as they are; `null` only clears a field that may be empty."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _null_only_where_allowed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            refused = sorted(k for k, v in data.items()
                             if v is None and k in cls.model_fields and k not in cls.NULLABLE)
            if refused:
                raise ValueError(f"{', '.join(refused)}: null is not allowed here; leave the field out to keep it, "
                                 "or send a value (nullable: " + (", ".join(sorted(cls.NULLABLE)) or "none") + ")")
        return data


# -- needs: the API's forms ------------------------------------------------------------------------------------
class NeedBase(Strict):
    description: str = Field("", max_length=TEXT_MAX)
    industry: Industry = "other"
    district: District | None = None
    coop_modes: list[Mode] = Field(default_factory=list, max_length=MODES_MAX)
    budget: float | None = MONEY
    deadline: IsoDate | None = None
    wanted_trl_min: Trl = 1
    wanted_trl_max: Trl = 9
    keywords: Keywords = []
    confidentiality: Confidentiality = "public"
    contact: str = Field("", max_length=SHORT_MAX)


class NeedCreate(NeedBase):
    """A new technology need; firms post for their own organisation."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "title": "减速器齿轮早期点蚀问题攻关",
        "description": "齿轮满载运行3000小时后出现齿面点蚀，希望接触疲劳寿命提升30%。",
        "industry": "smart_equipment", "district": "綦江区", "coop_modes": ["license", "joint_dev"], "budget": 150,
        "deadline": "2027-06-30", "wanted_trl_min": 6, "wanted_trl_max": 9, "keywords": ["齿轮", "点蚀"],
        "confidentiality": "public"}]})
    title: Title
    ref: Ref | None = None
    org_id: IdField | None = Field(None, description="Admins only: post on behalf of this organisation.")


class NeedUpdate(Patch):
    """Fields to change; absent fields stay as they are; null clears district, budget or deadline."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"district", "budget", "deadline"})

    title: Title | None = None
    description: str | None = Field(None, max_length=TEXT_MAX)
    industry: Industry | None = None
    district: District | None = None
    coop_modes: list[Mode] | None = Field(None, max_length=MODES_MAX)
    budget: float | None = MONEY
    deadline: IsoDate | None = None
    wanted_trl_min: Trl | None = None
    wanted_trl_max: Trl | None = None
    keywords: Keywords | None = None
    confidentiality: Confidentiality | None = None
    status: NeedStatus | None = None
    contact: str | None = Field(None, max_length=SHORT_MAX)


class NeedPublic(BaseModel):
    id: int
    ref: str | None = None
    title: str
    description: str | None = None
    org_id: int | None = None
    industry: str
    district: str | None = None
    coop_modes: list[str] = []
    budget: float | None = None
    budget_negotiable: bool | None = None
    deadline: str | None = None
    wanted_trl_min: int | None = None
    wanted_trl_max: int | None = None
    keywords: list[str] = []
    confidentiality: str
    status: str
    is_challenge: bool = False
    reward: float | None = None
    challenge_goal: str | None = None
    challenge_indicators: str | None = None
    contact: str | None = None
    posted_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    redacted: bool = Field(False, description="True when confidential fields were withheld from this caller.")


# -- results: the API's forms ----------------------------------------------------------------------------------
class ResultBase(Strict):
    abstract: str = Field("", max_length=TEXT_MAX)
    team: str = Field("", max_length=SHORT_MAX)
    contact: str = Field("", max_length=SHORT_MAX)
    industry: Industry = "other"
    district: District | None = None
    trl: Trl = Field(3, description="Technology readiness level (GB/T 22900-2022).")
    ip_type: IPType = "know_how"
    patent_no: str = Field("", max_length=SHORT_MAX)
    transfer_modes: list[Mode] = Field(default_factory=list, max_length=MODES_MAX)
    price: float | None = MONEY
    application_fields: str = Field("", max_length=TEXT_MAX)
    keywords: Keywords = []


class ResultCreate(ResultBase):
    """A new research result; institutions list for their own organisation."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "title": "齿轮齿面激光淬火强化工艺", "abstract": "光纤激光扫描淬火，硬化层0.8–1.2毫米，接触疲劳寿命提升35%。",
        "industry": "smart_equipment", "district": "巴南区", "trl": 7, "ip_type": "invention_patent",
        "patent_no": "ZL202310000001.1", "transfer_modes": ["license", "joint_dev"], "price": None,
        "keywords": ["激光淬火", "齿轮"]}]})
    title: Title
    ref: Ref | None = None
    org_id: IdField | None = Field(None, description="Admins only: list on behalf of this organisation.")


class ResultUpdate(Patch):
    """Fields to change; absent fields stay as they are; null clears district or price."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"district", "price"})

    title: Title | None = None
    abstract: str | None = Field(None, max_length=TEXT_MAX)
    team: str | None = Field(None, max_length=SHORT_MAX)
    contact: str | None = Field(None, max_length=SHORT_MAX)
    industry: Industry | None = None
    district: District | None = None
    trl: Trl | None = None
    ip_type: IPType | None = None
    patent_no: str | None = Field(None, max_length=SHORT_MAX)
    transfer_modes: list[Mode] | None = Field(None, max_length=MODES_MAX)
    price: float | None = MONEY
    application_fields: str | None = Field(None, max_length=TEXT_MAX)
    keywords: Keywords | None = None
    status: ResultStatus | None = None


class ResultPublic(BaseModel):
    id: int
    ref: str | None = None
    title: str
    abstract: str | None = None
    org_id: int | None = None
    team: str | None = None
    contact: str | None = None
    industry: str
    district: str | None = None
    trl: int
    maturity_label: str | None = None
    ip_type: str | None = None
    patent_no: str | None = None
    transfer_modes: list[str] = []
    price: float | None = None
    price_negotiable: bool | None = None
    application_fields: str | None = None
    keywords: list[str] = []
    status: str
    posted_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    redacted: bool = False


# -- matching ---------------------------------------------------------------------------------
