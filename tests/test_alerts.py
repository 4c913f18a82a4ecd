"""Alerts through the API with the worker running in the app: a signed webhook to a real HTTP receiver on
127.0.0.1, one alert per pair however often the listing changes, retries with backoff and a dead letter, the Atom
feed, confidential needs alerted only to those who may read them; `techmatch deliver --once` in its own process."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from matcher.access import create_key
from matcher.alerts import run_once
from matcher.app import App

from .conftest import FIXTURES, make_settings

GEAR_RESULT = {"title": "齿轮齿面渗氮与激光复合强化工艺", "industry": "smart_equipment",
               "abstract": "针对减速器齿轮齿面点蚀，采用离子渗氮与激光淬火复合强化，接触疲劳寿命提升40%，热处理变形小于"
                           "0.02毫米，已在多家齿轮企业中试。", "trl": 6}
ALLOY_NEED = {"title": "一体化压铸铝合金后地板轻量化", "industry": "ev_auto",
              "description": "新能源车型后地板一体化压铸，免热处理铝合金抗拉强度不低于280MPa、延伸率不低于8%，"
                             "降低车身重量与制造成本。", "confidentiality": "brokers"}


class Receiver:
    """A webhook receiver on 127.0.0.1: records every POST (headers and body); answers `codes` in turn, then 200."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.codes = list(codes or [])
        self.posts: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.fixture
def alerting(tmp_path, e5_encoder):
    """A catalogue with the fixture listings, served with the alert worker every 0.2 s and fast retries."""
    settings = make_settings(tmp_path / "data", alert_interval=0.2, alert_retry_base=0.2, alert_max_attempts=3,
                             alert_timeout=5.0, public_url="https://jishu.example.cn",
                             alert_private_webhooks=True)  # the receivers of these tests listen on 127.0.0.1
    service = App(settings, encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    from api.app import create_app

    with TestClient(create_app(settings, service=service)) as client:
        yield service, client
    service.close()


def bearer(service: App, role: str, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_key(service.store, role, org)[0]}"}


def scanned(service: App) -> bool:
    """Whether the worker has read the change log to its end."""
    return int(service.store.meta("alerts_seq") or -1) >= service.store.last_change()


def test_a_firm_hears_of_a_new_result_once_by_signed_webhook_and_feed(alerting):
    service, client = alerting
    hook = Receiver()
    firm = bearer(service, "firm", "测试齿轮有限公司")
    uni = bearer(service, "institution", "测试工业大学")
    created = client.post("/subscriptions", headers=firm, json={"kind": "own", "min_confidence": 0.3,
                                                                "webhook_url": hook.url, "name": "齿轮新成果"})
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["side"] == "results" and len(sub["secret"]) == 64
    assert sub["feed_url"].startswith(f"https://jishu.example.cn/subscriptions/{sub['id']}/feed.atom?token=")
    wait_for(lambda: scanned(service))
    posted = client.post("/results", headers=uni, json=GEAR_RESULT)
    assert posted.status_code == 201, posted.text
    result_id = posted.json()["id"]
    headers, body = wait_for(lambda: hook.posts and hook.posts[0])
    # t=<unix seconds>,v1=HMAC-SHA256(secret, "<t>." + body): recomputed here as a receiver would
    stamp, digest = (part.split("=", 1)[1] for part in headers["x-techmatch-signature"].split(","))
    assert abs(int(stamp) - time.time()) < 60
    assert digest == hmac.new(sub["secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    from matcher.alerts import verify

    assert verify(sub["secret"], headers["x-techmatch-signature"], body)
    assert not verify(sub["secret"], headers["x-techmatch-signature"], body + b" ")  # another body
    assert not verify(sub["secret"], headers["x-techmatch-signature"], body, now_ts=int(stamp) + 301)  # a replay
    assert not verify("another secret", headers["x-techmatch-signature"], body)
    payload = json.loads(body)
    gear_need = service.catalogue.find_by_ref("needs", "T-N01")
    assert payload["listing"]["id"] == result_id and payload["listing"]["title"] == GEAR_RESULT["title"]
    assert payload["your_listing"]["id"] == gear_need["id"] and payload["confidence"] >= 0.3
    assert payload["listing"]["url"] == f"https://jishu.example.cn/results/{result_id}"
    # changed twice more: still one alert for this pair
    for text in ("（2026年12月更新）", "（再次更新）"):
        assert client.patch(f"/results/{result_id}", headers=uni,
                            json={"abstract": GEAR_RESULT["abstract"] + text}).status_code == 200
    wait_for(lambda: scanned(service))
    run_once(service.alert_scan, service.deliveries)  # and once more here: anything the changes earned is recorded and sent by now
    alerts = client.get(f"/subscriptions/{sub['id']}/alerts", headers=firm).json()
    assert [(a["listing_id"], a["counterpart_id"]) for a in alerts] == [(result_id, gear_need["id"])]
    assert len(hook.posts) == 1
    deliveries = client.get(f"/subscriptions/{sub['id']}/deliveries", headers=firm).json()
    assert [(d["status"], d["attempts"], d["last_status"]) for d in deliveries] == [("delivered", 1, 200)]
    # a delivered delivery is sent again only when the retry says so
    retry = f"/subscriptions/{sub['id']}/deliveries/{deliveries[0]['id']}/retry"
    again = client.post(retry, headers=firm)
    assert again.status_code == 409 and "force=true" in again.json()["error"]["message"]
    assert client.post(retry, headers=firm, params={"force": "true"}).json()["status"] == "pending"
    wait_for(lambda: len(hook.posts) == 2)
    # the Atom feed, by its token (feed readers send no keys)
    token = sub["feed_url"].split("token=")[1]
    feed = client.get(f"/subscriptions/{sub['id']}/feed.atom", params={"token": token})
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ET.fromstring(feed.content).findall("a:entry", ns)
    assert len(entries) == 1 and GEAR_RESULT["title"] in entries[0].find("a:title", ns).text
    assert entries[0].find("a:link", ns).get("href") == payload["listing"]["url"]
    assert client.get(f"/subscriptions/{sub['id']}/feed.atom", params={"token": "wrong"}).status_code == 403
    # another organisation cannot see it; the owner can leave
    assert client.get(f"/subscriptions/{sub['id']}", headers=uni).status_code == 404
    assert client.delete(f"/subscriptions/{sub['id']}", headers=firm).status_code == 204
    assert client.get("/subscriptions", headers=firm).json() == []
    hook.close()


def test_a_confidential_need_reaches_brokers_not_outsiders(alerting):
    service, client = alerting
    uni = bearer(service, "institution", "测试工业大学")  # owns the aluminium die-casting result
    broker = bearer(service, "broker", "测试技术转移中心")
    mine = client.post("/subscriptions", headers=uni, json={"kind": "own", "min_confidence": 0.0}).json()
    search = client.post("/subscriptions", headers=broker, json={
        "kind": "search", "side": "needs", "query": "铝合金 压铸 轻量化", "min_confidence": 0.0,
        "filters": {"industry": ["ev_auto"]}}).json()
    wait_for(lambda: scanned(service))
    firm = bearer(service, "firm", "测试汽车部件有限公司")
    secret = client.post("/needs", headers=firm, json=ALLOY_NEED)
    assert secret.status_code == 201, secret.text
    public = client.post("/needs", headers=firm, json={**ALLOY_NEED, "title": "铝合金压铸件表面缺陷检测",
                                                       "confidentiality": "public"}).json()
    wait_for(lambda: scanned(service))
    seen = wait_for(lambda: client.get(f"/subscriptions/{search['id']}/alerts", headers=broker).json())
    assert secret.json()["id"] in {a["listing_id"] for a in seen}
    told = next(a for a in seen if a["listing_id"] == secret.json()["id"])["payload"]["listing"]
    assert told["title"] == ALLOY_NEED["title"] and not told["redacted"]  # brokers read confidential needs
    outsider = client.get(f"/subscriptions/{mine['id']}/alerts", headers=uni).json()
    assert secret.json()["id"] not in {a["listing_id"] for a in outsider}
    assert public["id"] in {a["listing_id"] for a in outsider}  # the public one reaches the institution


def test_a_failing_receiver_is_retried_then_dead_lettered_and_can_be_redelivered(alerting):
    service, client = alerting
    flaky, down = Receiver([500]), Receiver([500, 503, 500])
    firm = bearer(service, "firm", "测试齿轮有限公司")
    subs = [client.post("/subscriptions", headers=firm, json={"kind": "own", "min_confidence": 0.3,
                                                              "webhook_url": hook.url}).json()
            for hook in (flaky, down)]
    wait_for(lambda: scanned(service))
    client.post("/results", headers=bearer(service, "institution", "测试工业大学"), json=GEAR_RESULT)

    def status(sub: dict) -> list:
        return [(d["status"], d["attempts"]) for d in
                client.get(f"/subscriptions/{sub['id']}/deliveries", headers=firm).json()]
    assert wait_for(lambda: status(subs[0]) == [("delivered", 2)] and status(subs[0]))
    assert wait_for(lambda: status(subs[1]) == [("dead", 3)] and status(subs[1]))
    dead = client.get(f"/subscriptions/{subs[1]['id']}/deliveries", headers=firm).json()[0]
    assert dead["last_error"].startswith("HTTP 500") and len(down.posts) == 3
    from matcher.alerts.delivery import backoff

    assert [backoff(n, 30) for n in (1, 2, 3, 20)] == [30, 60, 120, 3600]
    # the receiver is fixed: the dead letter goes out again on request
    retried = client.post(f"/subscriptions/{subs[1]['id']}/deliveries/{dead['id']}/retry", headers=firm)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert wait_for(lambda: status(subs[1]) == [("delivered", 1)] and status(subs[1]))
    assert len(down.posts) == 4
    flaky.close()
    down.close()


def test_subscriptions_refuse_what_cannot_work(alerting):
    service, client = alerting
    firm = bearer(service, "firm", "测试齿轮有限公司")
    broker = bearer(service, "broker", "测试技术转移中心")
    for body in ({"kind": "search", "side": "results"}, {"kind": "own", "webhook_url": "ftp://x.cn/h"},
                 {"kind": "own", "webhook_url": "http://user:pw@x.cn/h"}, {"kind": "own", "min_confidence": 2},
                 {"kind": "sometimes"}, {"kind": "search", "side": "results", "query": "齿轮",
                                         "filters": {"industry": ["no_such_cluster"]}}):
        reply = client.post("/subscriptions", headers=firm, json=body)
        assert reply.status_code == 422, (body, reply.text)
    assert client.post("/subscriptions", headers=broker, json={"kind": "own"}).status_code == 422  # which side?
    assert client.post("/subscriptions", json={"kind": "own"}).status_code == 401
    assert service.store.count("subscriptions") == 0


def test_deliver_once_in_its_own_process(tmp_path, e5_encoder):
    settings = make_settings(tmp_path / "data", alert_private_webhooks=True)  # the receiver listens on 127.0.0.1
    service = App(settings, encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    service.importer.import_file(FIXTURES / "mini_results.jsonl", "results")
    hook = Receiver()
    from matcher import alerts
    from matcher.access import authenticate

    who = authenticate(service.store, create_key(service.store, "firm", "测试齿轮有限公司")[0])
    run_once(service.alert_scan, service.deliveries)  # the alert cursor starts here
    sub = service.alerts.create(who, "own", min_confidence=0.3, webhook_url=hook.url)
    service.catalogue.add_result({**GEAR_RESULT, "org": "测试工业大学"})
    service.close()
    env = {**os.environ, "TECHMATCH_DATA_DIR": str(settings.data_dir), "TECHMATCH_ALERT_PRIVATE_WEBHOOKS": "true"}
    out = subprocess.run([sys.executable, "-m", "matcher.cli", "deliver", "--once"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "1 alerts recorded" in out.stdout and "1 delivered" in out.stdout
    headers, body = hook.posts[0]
    assert alerts.verify(sub["secret"], headers["x-techmatch-signature"], body)
    hook.close()


def test_a_receiver_that_does_not_speak_http_counts_as_a_failed_attempt(alerting):
    import socket

    service, client = alerting
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            conn.close()
    threading.Thread(target=answer, daemon=True).start()
    firm = bearer(service, "firm", "测试齿轮有限公司")
    url = f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    sub = client.post("/subscriptions", headers=firm, json={"kind": "own", "min_confidence": 0.3,
                                                            "webhook_url": url}).json()
    wait_for(lambda: scanned(service))
    client.post("/results", headers=bearer(service, "institution", "测试工业大学"), json=GEAR_RESULT)
    deliveries = wait_for(lambda: [d for d in client.get(f"/subscriptions/{sub['id']}/deliveries",
                                                         headers=firm).json() if d["status"] == "dead"])
    assert deliveries[0]["attempts"] == 3 and deliveries[0]["last_status"] is None
    assert "BadStatusLine" in deliveries[0]["last_error"] or "RemoteDisconnected" in deliveries[0]["last_error"]
    server.close()


def test_a_need_made_confidential_after_its_alert_is_redacted_wherever_the_alert_is_read(alerting):
    service, client = alerting
    uni = bearer(service, "institution", "测试工业大学")
    sub = client.post("/subscriptions", headers=uni, json={"kind": "own", "min_confidence": 0.0}).json()
    wait_for(lambda: scanned(service))
    firm = bearer(service, "firm", "测试汽车部件有限公司")
    need = client.post("/needs", headers=firm, json={**ALLOY_NEED, "confidentiality": "public"}).json()
    told = wait_for(lambda: [a for a in client.get(f"/subscriptions/{sub['id']}/alerts", headers=uni).json()
                             if a["listing_id"] == need["id"]])
    assert "280MPa" in told[0]["payload"]["listing"]["summary"]
    assert client.patch(f"/needs/{need['id']}", headers=firm, json={"confidentiality": "brokers"}).status_code == 200
    now_told = next(a for a in client.get(f"/subscriptions/{sub['id']}/alerts", headers=uni).json()
                    if a["listing_id"] == need["id"])["payload"]["listing"]
    assert now_told["redacted"] and "280MPa" not in now_told["summary"] and now_told["organisation"] is None
    token = client.get(f"/subscriptions/{sub['id']}", headers=uni).json()["feed_url"].split("token=")[1]
    feed = client.get(f"/subscriptions/{sub['id']}/feed.atom", params={"token": token}).text
    assert "280MPa" not in feed and ALLOY_NEED["description"][:12] not in feed


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data",  # loopback, a cloud metadata service
    "http://10.0.0.8/hook", "http://100.64.0.1/hook", "http://100.100.100.200/latest",  # private, carrier-grade NAT
    "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://[fd00::1]/hook", "http://0.0.0.0/hook",
    "http://224.0.0.1/hook", "http://240.0.0.1/hook", "http://localhost:8000/hook"])
def test_webhooks_to_addresses_that_are_not_public_are_refused_unless_allowed(url):
    from matcher.alerts.address import check
    from matcher.alerts.delivery import post

    assert "not a public address" in check(url)
    status, error = post(url, b"{}", {}, 1.0)
    assert status is None and "TECHMATCH_ALERT_PRIVATE_WEBHOOKS" in error
    assert check(url, private=True) is None


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch):
    """DNS rebinding: a host that answers a public address, then 127.0.0.1. The attempt resolves it once, checks
    that answer and connects to it; no second lookup can move the connection into our own network."""
    import socket as socket_mod

    from matcher.alerts import address
    from matcher.alerts.delivery import post

    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1"])
    lookups, connected = [], []

    def lookup(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket_mod.AF_INET, socket_mod.SOCK_STREAM, 6, "", (next(answers), port))]

    def connect(where, timeout=None):
        connected.append(where)
        raise OSError("no network here")

    monkeypatch.setattr(address.socket, "getaddrinfo", lookup)
    monkeypatch.setattr(address.socket, "create_connection", connect)
    status, error = post("https://hooks.example.com/in", b"{}", {}, 1.0)
    assert status is None and "no network here" in error
    assert lookups == ["hooks.example.com"] and connected == [("93.184.216.34", 443)]
    status, error = post("https://hooks.example.com/in", b"{}", {}, 1.0)  # the next attempt: now it says 127.0.0.1
    assert status is None and "not a public address" in error and len(connected) == 1


def test_subscribing_a_webhook_to_a_private_address_is_refused(tmp_path, e5_encoder):
    from matcher.access import authenticate
    from matcher.errors import Invalid

    service = App(make_settings(tmp_path / "data"), encoder=e5_encoder)
    who = authenticate(service.store, create_key(service.store, "firm", "测试齿轮有限公司")[0])
    for url in ("http://100.64.0.1/hook", "http://127.0.0.1:8000/hook", "http://169.254.169.254/"):
        with pytest.raises(Invalid, match="not a public address"):
            service.alerts.create(who, "own", webhook_url=url)
    assert service.alerts.create(who, "own", webhook_url="https://no-such-host.invalid/hook")["id"]  # checked at send
    assert service.store.count("subscriptions") == 1
    service.close()


def test_webhooks_to_private_addresses_are_sent_when_allowed():
    from matcher.alerts.delivery import post

    status, error = post("http://127.0.0.1:9/hook", b"{}", {}, 1.0, private=True)  # allowed: nothing listens
    assert status is None and "refused" in error.lower()
