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
