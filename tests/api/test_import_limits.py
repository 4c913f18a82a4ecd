"""Imports within limits: oversized, deeply nested, badly encoded or formula-laden files end in 2xx or 4xx — never a
500 or a dropped connection — and a refused file writes nothing; an import whose client goes away stops.

A bounded fuzzer (seeded; a failing seed is printed) mixes sizes, nesting, encodings and formulas."""

from __future__ import annotations

import io
import json
import os
import random
import re
import socket
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matcher.access import create_key
from matcher.app import App
from matcher.errors import Cancelled

from ..conftest import FIXTURES, make_settings

LIMITS = {"import_max_rows": 40, "import_max_field_chars": 2000, "import_max_depth": 8,
          "import_max_uncompressed_bytes": 2_000_000}
NEED = {"title": "齿轮箱噪声诊断", "description": "希望降低齿轮箱运行噪声，寻求振动诊断方法。", "industry": "智能装备及智能制造"}


@pytest.fixture(scope="module")
def importing(tmp_path_factory, e5_encoder):
    service = App(make_settings(tmp_path_factory.mktemp("imports"), **LIMITS), encoder=e5_encoder)
    service.importer.import_file(FIXTURES / "mini_needs.jsonl", "needs")
    admin = {"Authorization": f"Bearer {create_key(service.store, 'admin', '测试科技局')[0]}"}
    with TestClient(create_app(service.settings, service=service)) as client:
        yield client, service, admin
    service.close()


def written(service: App) -> dict[str, int]:
    """What an import could have written: listings, organisations, audit lines and change-log rows."""
    return {t: service.store.count(t) for t in ("needs", "results", "organisations", "audit_log", "changes")}


def post(client, admin, data: bytes, name: str, kind: str = "needs"):
    return client.post("/imports", params={"kind": kind}, headers=admin, files={"file": (name, data)})


def xlsx(rows: list[list], patch: dict[str, bytes] | None = None) -> bytes:
    """A workbook of these rows (header first); `patch` replaces (or adds) files inside its zip."""
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    if not patch:
        return out.getvalue()
    source, target = zipfile.ZipFile(io.BytesIO(out.getvalue())), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            z.writestr(item, patch.get(item.filename, source.read(item.filename)))
        for name, data in patch.items():
            if name not in source.namelist():
                z.writestr(name, data)
    return target.getvalue()


def test_a_csv_cell_of_200000_characters_rejects_its_row_not_the_server(importing):
    client, service, admin = importing
    before = written(service)
    data = ("title,description,industry\n齿轮箱噪声,短描述,智能装备及智能制造\n长文本," + "齿" * 200_000
            + ",智能装备及智能制造\n").encode()
    r = post(client, admin, data, "long.csv")
    assert r.status_code in (201, 413), r.text[:300]
    if r.status_code == 413:
        assert written(service) == before and "characters" in r.json()["error"]["message"]
    else:
        assert r.json()["accepted"] == 1 and "characters" in r.json()["rejected"][0]["reason"]


def test_deeply_nested_json_is_refused_and_the_connection_survives(importing):
    client, service, admin = importing
    before = written(service)
    line = '{"title": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = post(client, admin, (json.dumps(NEED, ensure_ascii=False) + "\n" + line + "\n").encode(), "deep.jsonl")
    assert r.status_code == 201, r.text[:300]
    assert r.json()["rejected"][0]["row"] == 2 and "nested deeper" in r.json()["rejected"][0]["reason"]
    r = post(client, admin, ("[" * 100_000 + "]" * 100_000).encode(), "deep.json")
    assert r.status_code == 422 and "nests deeper" in r.json()["error"]["message"]
    assert client.get("/health").status_code == 200  # the same client, still served
    assert written(service)["needs"] == before["needs"] + 1


def test_more_rows_than_allowed_are_refused_before_any_work(importing):
    client, service, admin = importing
    before = written(service)
    lines = "\n".join(json.dumps({**NEED, "title": f"需求{i}"}, ensure_ascii=False) for i in range(41))
    r = post(client, admin, lines.encode(), "many.jsonl")
    assert r.status_code == 413 and "more than 40 rows" in r.json()["error"]["message"]
    csv_rows = "title,description\n" + "\n".join(f"需求{i},描述{i}" for i in range(41))
    assert post(client, admin, csv_rows.encode(), "many.csv").status_code == 413
    assert written(service) == before


def test_a_workbook_declaring_a_million_rows_is_refused_at_once(importing):
    client, service, admin = importing
    before = written(service)
    data = xlsx([["title", "description"], ["齿轮", "描述"]])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    patched = re.sub(rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1:B1000001"/>', sheet)
    assert patched != sheet
    started = time.monotonic()
    r = post(client, admin, xlsx([["title", "description"], ["齿轮", "描述"]], {"xl/worksheets/sheet1.xml": patched}),
             "million.xlsx")
    assert r.status_code == 413 and "1,000,000" in r.json()["error"]["message"]
    assert time.monotonic() - started < 5 and written(service) == before


def test_a_small_workbook_that_unzips_into_megabytes_is_refused(importing):
    client, service, admin = importing
    before = written(service)
    bomb = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ' \
           b'count="1" uniqueCount="1"><si><t>' + b"A" * 3_000_000 + b"</t></si></sst>"
    data = xlsx([["title", "description"], ["齿轮", "描述"]], {"xl/sharedStrings.xml": bomb})
    assert len(data) < 50_000
    r = post(client, admin, data, "bomb.xlsx")
    assert r.status_code == 413 and "unzips to" in r.json()["error"]["message"]
    assert written(service) == before


def test_encodings(importing):
    client, service, admin = importing
    text = "title,description,industry\n管道腐蚀检测,需要管道腐蚀在线检测,智能装备及智能制造\n"
    for encoding in ("utf-16", "gb18030", "utf-8-sig"):
        r = post(client, admin, text.encode(encoding), f"{encoding}.csv")
        assert r.status_code == 201 and r.json()["accepted"] == 1 and not r.json()["rejected"], (encoding, r.text)
    before = written(service)
    r = post(client, admin, bytes(range(128, 256)) * 10, "garbage.csv")
    assert r.status_code == 422 and written(service) == before


def test_an_import_whose_caller_has_gone_stops_and_writes_nothing(importing):
    _, service, _ = importing
    before = written(service)
    data = "\n".join(json.dumps({**NEED, "title": f"取消测试{i}", "description": f"第{i}个需要取消的导入需求，说明文字各不相同{i * 7}"},
                                ensure_ascii=False) for i in range(30)).encode()
    with pytest.raises(Cancelled):
        service.importer.import_bytes(data, "needs", "jsonl", cancelled=lambda: True)
    calls = []
    with pytest.raises(Cancelled):  # gone while it encodes
        service.importer.import_bytes(data, "needs", "jsonl", cancelled=lambda: calls.append(1) or len(calls) > 2)
    assert written(service) == before


def random_file(rng: random.Random) -> tuple[bytes, str]:
    """One hostile or odd file: sizes, nesting, encodings, formulas, truncation and noise, mixed at random."""
    kind = rng.choice(["jsonl", "csv", "xlsx", "json"])
    count = rng.choice([0, 1, 3, 39, 40, 41, 60])
    rows = []
    for i in range(count):
        row = {**NEED, "title": f"模糊测试{i}"}
        twist = rng.random()
        if twist < 0.15:
            row["description"] = "长" * rng.choice([1999, 2000, 2001, 20_000])
        elif twist < 0.25:
            row["title"] = rng.choice(["=1+1", "+SUM(A1)", "@cmd", "-2", "=HYPERLINK(\"http://x\")"])
        elif twist < 0.35:
            row["keywords"] = [[["x"] * 3] * 3]
        elif twist < 0.45:
            row["budget"] = rng.choice(["面议", "-5", "1e309", "NaN", "１２万元", ""])
        elif twist < 0.5:
            row["title"] = "\x00\x01\u202e" + row["title"]
        rows.append(row)
    if kind in ("jsonl", "json"):
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        if rng.random() < 0.3:
            lines.append("[" * rng.choice([7, 8, 9, 50, 5000]) + "]" * rng.choice([0, 9, 5000]))
        if rng.random() < 0.2:
            lines.append('{"title": "未闭合')
        text = ("[" + ",".join(lines) + "]") if kind == "json" and rng.random() < 0.5 else "\n".join(lines)
    elif kind == "csv":
        cols = ["title", "description", "industry", "budget"]
        text = ",".join(cols) + "\n" + "\n".join(
            ",".join('"' + str(r.get(c, "")).replace('"', '""') + '"' for c in cols) for r in rows)
        if rng.random() < 0.2:
            text += '\n"未闭合的引号,' + "x" * rng.choice([10, 200_000])
    else:
        cols = ["title", "description", "industry", "budget"]
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # control characters cannot be written to a sheet

        table = [cols] + [[ILLEGAL_CHARACTERS_RE.sub("", str(r.get(c, ""))) for c in cols] for r in rows]
        data = xlsx(table)
        if rng.random() < 0.3:
            data = data[:rng.randrange(1, len(data))]  # truncated
        return data, "fuzz.xlsx"
    encoding = rng.choice(["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1"])
    data = text.encode(encoding, errors="replace")
    if rng.random() < 0.1:
        data = bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 5000])))
    return data, f"fuzz.{'jsonl' if kind == 'json' else kind}"


@pytest.mark.parametrize("seed", range(12))
def test_the_import_fuzzer(importing, seed):
    client, service, admin = importing
    rng = random.Random(seed)
    for _ in range(3):
        data, name = random_file(rng)
        before = written(service)
        r = post(client, admin, data, name, rng.choice(["needs", "results"]))
        assert r.status_code < 500, (seed, name, r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert written(service) == before, (seed, name, r.status_code)
            assert r.json()["error"]["message"]
        else:
            report = r.json()
            assert report["accepted"] + report["rejected_rows"] + report["skipped"] >= 0
        assert client.get("/health").status_code == 200


@pytest.mark.slow
def test_a_real_server_stops_an_import_when_its_client_disconnects(tmp_path):
    """A real `techmatch serve`: a client uploads 400 new needs (minutes of encoding) and hangs up after a second;
    the server notices, stops the import and writes nothing."""
    from tests.servers import Server

    data = tmp_path / "data"
    service = App(make_settings(data))
    key = create_key(service.store, "admin", "测试科技局")[0]
    service.close()
    server = Server(data).start()
    try:
        rng = random.Random(7)
        words = ["齿轮", "轴承", "电池", "涂层", "传感", "视觉", "检测", "回收", "发酵", "压铸", "焊接", "芯片", "算法", "储能", "膜", "催化", "光伏", "柔性", "氢能", "数控"]
        lines = [json.dumps({"title": f"断线测试需求{i}", "industry": "智能装备及智能制造", "description": "，".join(
            rng.choice(words) + rng.choice(words) + str(rng.randrange(10**6)) for _ in range(12))},
                            ensure_ascii=False) for i in range(400)]
        body = "\n".join(lines).encode()
        boundary = "techmatchboundary"
        payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"n.jsonl\"\r\n"
                   f"Content-Type: application/octet-stream\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
        head = (f"POST /imports?kind=needs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(payload)}\r\n\r\n")
        def cpu() -> float:  # the server process's CPU seconds so far
            fields = (Path("/proc") / str(server.proc.pid) / "stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        start = cpu()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(head.encode() + payload)
            time.sleep(2)
        assert cpu() - start > 1.0  # it was encoding
        time.sleep(3)  # noticed within a quarter of a second, stopped at the next step (16 texts, about a second)
        idle = cpu()
        time.sleep(2)
        assert cpu() - idle < 0.5, "the import went on after its client left"
        with server.client(key) as c:
            assert c.get("/needs", params={"q": "断线测试需求"}).json()["total"] == 0
    finally:
        server.stop()
