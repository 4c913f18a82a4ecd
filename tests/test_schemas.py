"""Validation of needs, results and organisations."""

import pytest
from pydantic import ValidationError

from matcher.ingest.schemas import NeedIn, OrgIn, ResultIn


def test_need_normalises_raw_values():
    need = NeedIn.model_validate({
        "title": " 齿轮点蚀攻关 ", "description": "描述\x00", "industry": "智能装备及智能制造", "district": "綦江",
        "coop_modes": "技术许可,合作开发", "budget": "面议", "wanted_maturity": "通过中试",
        "keywords": "齿轮，点蚀", "confidentiality": "仅经纪人可见", "status": "征集中", "deadline": "2027/6/30",
    })
    assert need.title == "齿轮点蚀攻关" and need.description == "描述"
    assert need.industry == "smart_equipment" and need.district == "綦江区"
    assert need.coop_modes == ["license", "joint_dev"]
    assert need.budget is None and need.budget_negotiable is True
    assert (need.wanted_trl_min, need.wanted_trl_max) == (6, 9)
    assert need.keywords == ["齿轮", "点蚀"] and need.confidentiality == "brokers"
    assert need.deadline == "2027-06-30"


def test_result_maturity_label_sets_trl_and_back():
    r = ResultIn.model_validate({"title": "t", "maturity": "通过中试", "ip_type": "发明", "price": "30万"})
    assert (r.trl, r.maturity_label, r.ip_type, r.price, r.price_negotiable) == (7, "通过中试", "invention_patent",
                                                                                 30.0, False)
    r2 = ResultIn.model_validate({"title": "t", "trl": 9})
    assert r2.maturity_label == "可以量产"


@pytest.mark.parametrize(("data", "field"), [
    ({"title": ""}, "title"),
    ({"title": "t" * 201}, "title"),
    ({"title": "t", "industry": "航天"}, "industry"),
    ({"title": "t", "district": "成都"}, "district"),
    ({"title": "t", "coop_modes": "快递"}, "coop_modes"),
    ({"title": "t", "budget": "很多"}, "budget"),
    ({"title": "t", "wanted_trl_min": 8, "wanted_trl_max": 3}, ""),
    ({"title": "t", "unknown_field": 1}, "unknown_field"),
])
def test_need_rejects_bad_values_naming_the_field(data, field):
    with pytest.raises((ValidationError, ValueError)) as info:
        NeedIn.model_validate(data)
    assert field in str(info.value)


def test_org_kind_accepts_chinese_names():
    assert OrgIn.model_validate({"name": "某大学", "kind": "高校"}).kind == "university"
    with pytest.raises(ValidationError, match="organisation kind"):
        OrgIn.model_validate({"name": "x", "kind": "club"})


def _constraints(schema: dict) -> dict:
    """The limits a JSON schema puts on one field (through `anyOf` for optional fields), type names left out."""
    keys = ("maxLength", "minLength", "minimum", "maximum", "pattern", "maxItems", "format")
    out = {k: schema[k] for k in keys if k in schema}
    for option in schema.get("anyOf", []):
        out.update({k: option[k] for k in keys if k in option})
    if "items" in schema:
        out["items"] = _constraints(schema["items"])
    return out


@pytest.mark.parametrize("form, row", [("NeedCreate", "NeedIn"), ("ResultCreate", "ResultIn"),
                                       ("NeedUpdate", "NeedIn"), ("ResultUpdate", "ResultIn")])
def test_the_apis_forms_and_the_importers_rows_are_one_family(form, row):
    """Every field of an API form exists on the import row with the same limits (length, range, date pattern):
    the two cannot drift apart again (a deadline was once a date in one and a string in the other)."""
    from matcher.ingest import schemas

    api_fields = getattr(schemas, form).model_json_schema()["properties"]
    row_fields = getattr(schemas, row).model_json_schema()["properties"]
    for name, spec in api_fields.items():
        if name == "org_id":  # admins post on behalf of an organisation by id; a row names it (`org`)
            continue
        assert name in row_fields, f"{form}.{name} has no {row} field"
        want, got = _constraints(spec), _constraints(row_fields[name])
        assert {k: v for k, v in want.items() if k != "format" or "format" in got} == \
               {k: v for k, v in got.items() if k in want}, (name, want, got)


def test_what_the_api_accepts_the_importer_reads_the_same_way():
    """A need the API takes is the same listing when it arrives as an import row (same values after
    normalising), so the service validates one shape whichever door it came through."""
    from matcher.ingest.schemas import NeedCreate, NeedIn, ResultCreate, ResultIn

    need = {"title": "减速器齿轮早期点蚀问题攻关", "description": "接触疲劳寿命提升30%。", "industry": "smart_equipment",
            "district": "綦江区", "coop_modes": ["license", "joint_dev"], "budget": 150, "deadline": "2027-06-30",
            "wanted_trl_min": 6, "wanted_trl_max": 9, "keywords": ["齿轮", "点蚀"], "confidentiality": "brokers",
            "contact": "张工 023-12345678", "ref": "N-1"}
    form = NeedCreate.model_validate(need).model_dump(exclude_none=True)
    row = NeedIn.model_validate(need).model_dump()
    assert {k: row[k] for k in form} == form
    with pytest.raises(ValidationError):
        NeedCreate.model_validate({**need, "deadline": "2027-02-30"})
    with pytest.raises(ValidationError):
        NeedIn.model_validate({**need, "deadline": "2027-02-30"})
    result = {"title": "齿轮齿面激光淬火强化工艺", "abstract": "硬化层0.8–1.2毫米。", "trl": 7, "price": 80,
              "transfer_modes": ["license"], "ip_type": "invention_patent", "keywords": ["激光淬火"]}
    form = ResultCreate.model_validate(result).model_dump(exclude_none=True)
    row = ResultIn.model_validate(result).model_dump()
    assert {k: row[k] for k in form} == form
