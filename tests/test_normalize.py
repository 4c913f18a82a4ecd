"""Normalisation of field values as real platforms write them."""

import datetime as dt

import pytest

from matcher.ingest import normalize as nz
from matcher.ingest.schemas import vocab


@pytest.mark.parametrize(("raw", "expected"), [
    ("面议", (None, True)), ("", (None, True)), (None, (None, True)), (80, (80.0, False)),
    ("80万", (80.0, False)), ("80万元", (80.0, False)), ("1.2亿", (12000.0, False)),
    ("50000元", (5.0, False)), ("1,500 万元", (1500.0, False)), ("价格面议", (None, True)),
    ("100.0万元-200.0万元", (100.0, False)), ("50万以上", (50.0, False)),
])
def test_parse_money(raw, expected):
    assert nz.parse_money(raw) == expected


@pytest.mark.parametrize("raw", ["很多", "-5", "abc万"])
def test_parse_money_rejects(raw):
    with pytest.raises(ValueError, match="amount"):
        nz.parse_money(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2020-01-13", "2020-01-13"), ("2020/1/3", "2020-01-03"), ("2020年1月13日", "2020-01-13"),
    ("20200113", "2020-01-13"), ("2020-01-1310:49:39.0", "2020-01-13"), ("2020.01.13", "2020-01-13"),
    (dt.datetime(2021, 5, 6, 7, 8), "2021-05-06"), ("", None),
])
def test_parse_date(raw, expected):
    assert nz.parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["2020-13-01", "next week", "2020-02-30"])
def test_parse_date_rejects(raw):
    with pytest.raises(ValueError):
        nz.parse_date(raw)


def test_parse_period_takes_both_ends():
    assert nz.parse_period("2020-01-1310:49:39.0至2021-01-1310:49:41.0") == ("2020-01-13", "2021-01-13")


def test_codes_from_comma_joined_names_and_aliases():
    v = vocab()
    assert nz.parse_codes("技术转让,技术许可，委托开发、技术入股", v.transfer_modes, "mode") == [
        "transfer", "license", "commissioned_dev", "equity"]
    assert nz.parse_codes("完全转让许可转让技术入股合作生产", v.transfer_modes, "mode") == [
        "transfer", "license", "equity", "joint_dev"]
    with pytest.raises(ValueError, match="unknown mode '空运'"):
        nz.parse_codes("技术转让,空运", v.transfer_modes, "mode")


@pytest.mark.parametrize(("raw", "expected"), [
    ("通过中试", (6, 7, "通过中试")), ("中试", (6, 7, "通过中试")), ("TRL 6", (6, 6, None)),
    ("6-8", (6, 8, None)), (4, (4, 4, None)), ("可以量产", (8, 9, "可以量产")),
])
def test_parse_maturity(raw, expected):
    assert nz.parse_maturity(raw, vocab()) == expected


@pytest.mark.parametrize("raw", ["TRL 0", "8-3", "成熟"])
def test_parse_maturity_rejects(raw):
    with pytest.raises(ValueError):
        nz.parse_maturity(raw, vocab())


def test_clean_text_strips_nul_and_controls_and_limits_length():
    assert nz.clean_text("ab\x00c\x07 d") == "abc d"
    with pytest.raises(ValueError, match="at most 3"):
        nz.clean_text("abcd", 3, "title")


def test_platform_industries_map_onto_clusters():
    v = vocab()
    assert v.industry("电子信息-人工智能") == "electronics"
    assert v.industry("新材料") == "advanced_materials"
    assert v.industry("资源环保-循环经济") == "new_energy"
    assert v.industry("智能网联新能源汽车") == "ev_auto"
    assert v.industry("航天") is None
