"""Signing in to the workbench: by API key or password, roles decide the pages, revocation ends the session."""

from __future__ import annotations

import contextlib
import re
import time

from matcher.app import App
from matcher.errors import Throttled

from ..conftest import make_settings
from .conftest import app, button, key_for


def service_for(data):
    return App(make_settings(data))


def pages(at) -> list[str]:
    return list(at.sidebar.radio(key="page").options)


def test_nothing_but_the_sign_in_form_without_a_principal(workbench):
    at = app(workbench, role=None).run()
    assert not at.exception
    assert at.header[0].value == "登录" and not [r for r in at.sidebar.radio if r.key == "page"]
    at.text_input(key="signin_key").input("tm_not-a-real-key")
    button(at, "登录").click().run()
    assert at.error[0].value == "密钥无效或已撤销。"
    assert at.header[0].value == "登录"


def test_a_broker_with_a_password_decides_under_their_own_name(workbench):
    s = service_for(workbench)
    s.accounts.create_user("zhang.broker", "correct horse battery", "broker", "测试技术转移中心")
    at = app(workbench, role=None).run()
    at.text_input(key="signin_name").input("zhang.broker")
    at.text_input(key="signin_password").input("wrong password!")
    [b for b in at.button if b.label == "登录"][-1].click().run()  # the password form's button
    assert at.error and "用户名或密码不正确" in at.error[0].value
    at.text_input(key="signin_password").input("correct horse battery")
    [b for b in at.button if b.label == "登录"][-1].click().run()
    assert not at.exception
    assert pages(at) == ["审核队列", "对接进度", "需求与成果", "揭榜挂帅", "数据看板", "全局分配",
                         "对接提醒"]  # batch runs are for admins
    pair_id = int(at.selectbox(key="pair").value)
    at.button(key="confirm_now").click().run()
    assert s.store.find("reviews", candidate_id=pair_id)["actor"] == "broker:测试技术转移中心@zhang.broker"


def test_a_firm_sees_no_queue_and_no_confidential_text(workbench):
    at = app(workbench, role="firm").run()
    assert not at.exception
    assert pages(at) == ["需求与成果", "揭榜挂帅", "对接提醒"]
    at.radio(key="s_side").set_value("needs").run()
    s = service_for(workbench)
    secret = s.catalogue.find_by_ref("needs", "T-N04")
    assert secret["confidentiality"] == "brokers"
    at.selectbox(key="s_open").set_value(secret["id"]).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert secret["title"] in text and secret["description"][:12] not in text and "保密需求" in text
    # nor what it matches: its matches are ranked by the text it withholds (the API answers 403 too)
    assert any("仅对需求方与技术经纪人开放" in i.value for i in at.info)
    assert not [m for m in at.markdown if m.value.startswith("**1. ")]
    broker = app(workbench, role="broker").run()
    broker.sidebar.radio(key="page").set_value("listings").run()
    broker.radio(key="s_side").set_value("needs").run()
    broker.selectbox(key="s_open").set_value(secret["id"]).run()
    assert secret["description"][:12] in " ".join(m.value for m in broker.markdown)
    assert [m for m in broker.markdown if m.value.startswith("**1. ")]  # a broker sees its matches


def test_a_revoked_key_ends_the_session_and_sign_out_works(workbench):
    key = key_for(workbench, "broker")
    at = app(workbench, role=None).run()
    at.text_input(key="signin_key").input(key)
    button(at, "登录").click().run()
    assert pages(at)[0] == "审核队列"
    s = service_for(workbench)
    key_id = next(k["id"] for k in s.accounts.list_keys() if key.startswith(k["prefix"]))
    s.accounts.revoke_key(key_id)
    at.run()
    assert at.header[0].value == "登录" and "已被撤销" in at.warning[0].value
    at = app(workbench, role="broker").run()
    at.sidebar.button(key="signout").click().run()
    assert at.header[0].value == "登录"
    assert s.queue.list_candidates()[1] > 0  # nothing was decided on the way


def test_password_sign_in_is_throttled_and_says_so_without_naming_the_account(workbench, monkeypatch):
    from matcher.access import throttle

    s = service_for(workbench)
    s.accounts.create_user("chen.broker", "the right password", "broker", "测试技术转移中心")
    clock = [time.time()]
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    for name in ("chen.broker", "nobody.here"):
        for _ in range(throttle.RULES["account"].lock_at):  # an attacker's failures (waiting out each delay)
            with contextlib.suppress(Throttled):
                s.accounts.sign_in(name, "a wrong guess")
            clock[0] += 61
        clock[0] -= 61
    messages = []
    for name, password in (("chen.broker", "the right password"), ("nobody.here", "anything at all")):
        at = app(workbench, role=None).run()
        at.text_input(key="signin_name").input(name)
        at.text_input(key="signin_password").input(password)
        [b for b in at.button if b.label == "登录"][-1].click().run()
        assert not at.exception and at.header[0].value == "登录"  # not signed in, even with the right password
        messages.append(re.sub(r"\d+", "N", at.error[0].value))
    assert messages[0] == messages[1] and "登录失败次数过多" in messages[0]  # the same words for both names
