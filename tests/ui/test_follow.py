"""The workbench and the API are separate processes on one data folder: each sees the other's writes."""

from __future__ import annotations

import pytest

from matcher.app import App

from ..conftest import make_settings
from ..servers import Server, wait_for
from .conftest import app

pytestmark = pytest.mark.slow


def test_workbench_and_api_see_each_others_writes_within_a_second(workbench):
    s = App(make_settings(workbench))
    firm = s.accounts.create_key("firm", "测试齿轮有限公司")[0]
    broker = s.accounts.create_key("broker", "测试技术转移中心")[0]
    server = Server(workbench).start()
    try:
        at = app(workbench, role="broker").run()
        at.sidebar.radio(key="page").set_value("listings").run()
        at.radio(key="s_side").set_value("needs").run()
        with server.client(firm) as c:
            made = c.post("/needs", json={"title": "火锅底料自动化炒制设备", "description": "牛油火锅底料炒制全程自动控温。",
                                          "industry": "food_agri"})
            assert made.status_code == 201, made.text
        # the first page run after the post already ranks it: a ranking read applies the log first
        at.text_input(key="s_text").input("火锅底料自动化炒制").run()
        assert made.json()["id"] in [int(o.split()[0][1:]) for o in at.selectbox(key="s_open").options]
        # the other way: a decision taken in the workbench is seen by the API
        at.sidebar.radio(key="page").set_value("queue").run()
        pair_id = int(at.selectbox(key="pair").value.split()[0][1:]) if isinstance(
            at.selectbox(key="pair").value, str) else int(at.selectbox(key="pair").value)
        at.button(key="confirm_now").click().run()
        with server.client(broker) as c:
            wait_for(lambda: c.get(f"/candidates/{pair_id}").json()["status"] == "confirmed", timeout=1.0)
        assert s.queue.get_candidate(pair_id)["status"] == "confirmed"
    finally:
        server.stop()
        s.close()
