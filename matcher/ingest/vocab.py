"""The editable vocabularies (clusters, districts, transfer modes, maturity, IP types) loaded from `data/vocab/`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


def _key(text: str) -> str:
    return "".join(str(text).split()).lower()


@dataclass(frozen=True)
class Vocabulary:
    """A code ↔ name table with aliases, e.g. transfer modes."""

    kind: str
    names: dict[str, str]
    lookup: dict[str, str] = field(repr=False)
    names_en: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_entries(cls, kind: str, entries: list[dict], code_key: str = "code") -> Vocabulary:
        names: dict[str, str] = {}
        names_en: dict[str, str] = {}
        lookup: dict[str, str] = {}
        for e in entries:
            code = e[code_key]
            name = e.get("name", code)
            names[code] = name
            if e.get("name_en"):
                names_en[code] = e["name_en"]
            for alias in [code, name, *e.get("aliases", []), *([e["name_en"]] if e.get("name_en") else [])]:
                lookup.setdefault(_key(alias), code)
        return cls(kind, names, lookup, names_en)

    def resolve(self, value: str) -> str | None:
        """The code for a code, name or alias; None when unknown."""
        return self.lookup.get(_key(value))

    def name(self, code: str, lang: str = "zh") -> str:
        """The display name of a code in a language (zh, or en where the vocabulary gives one); the code itself
        when unknown."""
        if lang == "en" and code in self.names_en:
            return self.names_en[code]
        return self.names.get(code, code)

    def namer(self, lang: str) -> Callable[[str], str]:
        """`name` bound to a language, for a widget's format_func."""
        return lambda code: self.name(code, lang)

    @property
    def codes(self) -> list[str]:
        return list(self.names)


@dataclass(frozen=True)
class MaturityLevel:
    """A coarse platform maturity label and the TRL range it stands for."""

    label: str
    trl: int
    trl_min: int
    trl_max: int
    label_en: str = ""

    def name(self, lang: str = "zh") -> str:
        """The label in a language (en where the vocabulary gives one)."""
        return self.label_en if lang == "en" and self.label_en else self.label


@dataclass(frozen=True)
class Vocab:
    """All vocabularies of the domain."""

    industries: Vocabulary
    industry_tiers: dict[str, str]
    districts: Vocabulary
    district_groups: dict[str, str]
    transfer_modes: Vocabulary
    ip_types: Vocabulary
    org_kinds: Vocabulary
    need_statuses: Vocabulary
    result_statuses: Vocabulary
    confidentiality: Vocabulary
    reject_reasons: Vocabulary
    pairing_stages: Vocabulary
    maturity: list[MaturityLevel]
    maturity_lookup: dict[str, MaturityLevel]

    def industry(self, value: str) -> str | None:
        """Cluster code for a code, cluster name or platform industry such as `电子信息-人工智能`."""
        code = self.industries.resolve(value)
        if code:
            return code
        # two-level platform industries: try the full value's parts, most specific first
        for sep in ("-", "—", "/", "－"):
            if sep in value:
                for part in reversed(value.split(sep)):
                    code = self.industries.resolve(part)
                    if code:
                        return code
        return None

    def maturity_level(self, label: str) -> MaturityLevel | None:
        """The maturity level for a label or alias."""
        return self.maturity_lookup.get(_key(label))


@lru_cache(maxsize=4)
def load_vocab(vocab_dir: Path) -> Vocab:
    """Read the vocabulary files once per folder."""
    ind = json.loads((vocab_dir / "industries.json").read_text("utf-8"))
    dist = json.loads((vocab_dir / "districts.json").read_text("utf-8"))
    voc = json.loads((vocab_dir / "vocabularies.json").read_text("utf-8"))
    district_entries, groups = [], {}
    for g in dist["groups"]:
        for d in g["districts"]:
            district_entries.append({"code": d["name"], "name": d["name"], "aliases": d.get("aliases", []),
                                     "name_en": d.get("name_en", "")})
            groups[d["name"]] = g["group"]
    levels = [MaturityLevel(m["label"], m["trl"], m["trl_min"], m["trl_max"], m.get("name_en", ""))
              for m in voc["maturity_levels"]]
    mlookup: dict[str, MaturityLevel] = {}
    for m, raw in zip(levels, voc["maturity_levels"]):
        for alias in [m.label, *raw.get("aliases", []), *([m.label_en] if m.label_en else [])]:
            mlookup[_key(alias)] = m

    def v(kind: str) -> Vocabulary:
        return Vocabulary.from_entries(kind, voc[kind])

    return Vocab(
        industries=Vocabulary.from_entries("industries", ind["clusters"]),
        industry_tiers={c["code"]: c["tier"] for c in ind["clusters"]},
        districts=Vocabulary.from_entries("districts", district_entries),
        district_groups=groups,
        transfer_modes=v("transfer_modes"),
        ip_types=v("ip_types"),
        org_kinds=v("org_kinds"),
        need_statuses=v("need_statuses"),
        result_statuses=v("result_statuses"),
        confidentiality=v("confidentiality"),
        reject_reasons=v("reject_reasons"),
        pairing_stages=v("pairing_stages"),
        maturity=levels,
        maturity_lookup=mlookup,
    )
