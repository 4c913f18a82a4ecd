"""A model-based test of the workbench in headless Chromium: seeded random sequences of what brokers, firms and
institutions do — sign in as each role, switch pages and language, filter the queue, pick pairs in the picker and
in the table, confirm, reject (with and without a reason), undo, step on, move pairings and plan their next action,
open listings, post a need, open challenges and apply — and after every step the invariants the workbench's state
model promises:

- no exception on the page;
- the queue's picker, its table's selected row and the cards name one pair;
- the pipeline's next-action form holds the open pairing's own plan (or what was typed for that pairing);
- in Chinese no English UI word, in English no Chinese UI label (the listings' own text aside);
- no raw code (snake_case vocabulary codes, audit actors such as `broker:…#3`);
- an outsider (firm, institution) never sees a confidential need's hidden text.

A failing seed is written to `model_seeds.json` beside this file (commit it): those seeds are replayed first on every
run. `TECHMATCH_MODEL_SEEDS` (comma-separated) and `TECHMATCH_MODEL_STEPS` run more; CI runs the saved seeds and
one seed of 120 steps. Slow; skipped where Debian's Chromium or Playwright is absent.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from matcher.app import App
from ui.i18n import STRINGS

from ..conftest import copy_of, make_settings
from ..servers import free_port, wait_workbench
from .conftest import ORGS

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SEEDS_FILE = Path(__file__).with_name("model_seeds.json")
ARTIFACTS = ROOT / "tests" / "artifacts" / "model"
STEPS = int(os.environ.get("TECHMATCH_MODEL_STEPS", "120"))
EXTRA = [int(s) for s in os.environ.get("TECHMATCH_MODEL_SEEDS", "").split(",") if s.strip()]
CI_SEEDS = [20261207]
PAGES = {"queue": ("审核队列", "Review queue"), "pipeline": ("对接进度", "Pipeline"),
         "listings": ("需求与成果", "Listings"), "challenges": ("揭榜挂帅", "Challenges"),
         "dashboard": ("数据看板", "Dashboard"), "assign": ("全局分配", "Assignment"), "alerts": ("对接提醒", "Alerts"),
         "batch": ("批量匹配", "Batch matching")}
ROLE_PAGES = {"broker": ["queue", "pipeline", "listings", "challenges", "dashboard", "assign", "alerts"],
              "admin": ["queue", "pipeline", "listings", "challenges", "dashboard", "assign", "alerts", "batch"],
              "firm": ["listings", "challenges", "alerts"], "institution": ["listings", "challenges", "alerts"]}
SNAKE = re.compile(r"\b[a-z]{2,}(?:_[a-z]{2,})+\b")
ACTOR = re.compile(r"\b(?:broker|admin|firm|institution):\S")
ALLOWED_LATIN = {"TRL", "API", "Excel", "Webhook", "Atom", "CSV", "XLSX", "PDF", "HTML", "JSON", "JSONL", "Y", "X", "N",
                 "U", "tm", "KB", "techmatch", "Language", "English"}  # the language switch speaks both


def _saved_seeds() -> list[int]:
    try:
        return [int(s) for s in json.loads(SEEDS_FILE.read_text("utf-8"))]
    except FileNotFoundError:
        return []


def _save_seed(seed: int) -> None:
    seeds = sorted(set(_saved_seeds()) | {seed})
    SEEDS_FILE.write_text(json.dumps(seeds) + "\n", "utf-8")


@pytest.fixture(scope="module")
def served(tmp_path_factory, template_catalogue, e5_encoder):
    """The fixture catalogue with candidates, pairings at several stages, a challenge, and keys for every role,
    served by a real `techmatch ui` process."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/install-browser.sh installs it)")
    pytest.importorskip("playwright.sync_api")
    from matcher.access import create_key

    data = copy_of(template_catalogue, tmp_path_factory.mktemp("model") / "data")
    service = App(make_settings(data), encoder=e5_encoder)
    service.batches.run_now(top_k=4)
    pending = service.queue.list_candidates(limit=200)[0]
    for cand, stages in zip(pending[:3], (["contacted"], ["contacted", "negotiating"], [])):
        service.queue.decide(cand["id"], "confirm")
        pid = service.store.find("pairings", candidate_id=cand["id"])["id"]
        for stage in stages:
            service.pipeline.move_pairing(pid, stage)
    service.challenges.publish_challenge(service.catalogue.find_by_ref("needs", "T-N02")["id"], "锂回收率≥95%", "电池级碳酸锂",
                                         "2027-06-30", 200)
    keys = {role: create_key(service.store, role, ORGS[role])[0] for role in ROLE_PAGES}
    secret = service.catalogue.find_by_ref("needs", "T-N04")
    hidden = [secret["description"][i:i + 6] for i in range(0, len(secret["description"]) - 6, 3)]
    catalogue_words = " ".join(str(v) for t in ("needs", "results", "organisations") for r in service.store.rows(t)
                               for v in r.values())
    service.close()
    port = free_port()
    env = {**os.environ, "TECHMATCH_DATA_DIR": str(data), "TECHMATCH_FOLLOW_INTERVAL": "0.5"}
    proc = subprocess.Popen([sys.executable, "-m", "matcher.cli", "ui", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_workbench(url, proc, 120)
        yield url, data, keys, hidden, catalogue_words
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass
class World:
    """What the test believes: who is signed in, in which language, on which page, and what was typed unsaved."""

    role: str | None = None
    lang: str = "zh"
    page: str | None = None
    typed_plans: dict[int, str] = field(default_factory=dict)  # pairing → next action typed, not saved
    history: list[str] = field(default_factory=list)


class Bench:
    """The workbench in one browser page: actions a person takes, and what the page shows."""

    def __init__(self, page, url: str, keys: dict[str, str], data: Path) -> None:
        self.page, self.url, self.keys = page, url, keys
        self.service = App(make_settings(data))

    # -- seeing ---------------------------------------------------------------------------------
    def settle(self) -> None:
        """Wait until the run a click started is over (no running indicator, no stale element)."""
        page = self.page
        page.wait_for_timeout(350)  # the run a click starts is announced a moment later
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)
        deadline = time.monotonic() + 30
        while page.locator('[data-stale="true"]').count() and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        # a table draws its rows (and their selection) a moment after the run
        deadline = time.monotonic() + 3
        frames = page.locator('[data-testid="stDataFrame"]')
        while time.monotonic() < deadline and any(
                not frames.nth(i).locator("table tbody tr").count() for i in range(min(frames.count(), 2))):
            page.wait_for_timeout(100)
        page.wait_for_timeout(150)

    def text(self) -> str:
        """What a person reads on the page (main and sidebar; icons, which are ligature names, left out)."""
        return self.page.evaluate("""() => ['[data-testid="stMain"]', '[data-testid="stSidebar"]'].map(sel => {
            const node = document.querySelector(sel);
            if (!node) return '';
            const copy = node.cloneNode(true);
            copy.querySelectorAll('[data-testid="stIconMaterial"], .material-symbols-rounded').forEach(e => e.remove());
            document.body.appendChild(copy);
            copy.style.position = 'absolute'; copy.style.left = '-99999px';
            const text = copy.innerText;
            copy.remove();
            return text;
        }).join(' ')""")

    def combobox(self, label: str):
        return self.page.get_by_role("combobox", name=re.compile("^" + re.escape(label)))

    def picked_id(self, label: str) -> int | None:
        box = self.combobox(label)
        if not box.count():
            return None
        value = box.first.input_value().strip()
        match = re.match(r"#(\d+)", value)
        return int(match.group(1)) if match else None

    # -- acting ---------------------------------------------------------------------------------
    def t(self, key: str, lang: str) -> str:
        return STRINGS[key][lang == "en"]

    def click_text(self, text: str) -> bool:
        target = self.page.get_by_text(text, exact=True)
        if not target.count():
            return False
        target.first.click()
        self.settle()
        return True

    def button(self, name: str | re.Pattern) -> bool:
        target = self.page.get_by_role("button", name=name)
        if not target.count() or not target.first.is_enabled():
            return False
        target.first.click()
        self.settle()
        return True

    def choose(self, label: str, rng: random.Random, avoid_first: bool = False) -> str | None:
        """Open a select box and click one of its options at random; the option's text."""
        box = self.combobox(label)
        if not box.count():
            return None
        box.first.click()
        options = self.page.get_by_role("option")
        try:
            options.first.wait_for(timeout=5_000)
        except Exception:
            self.page.keyboard.press("Escape")
            return None
        n = options.count()
        i = rng.randrange(1 if avoid_first and n > 1 else 0, n)
        chosen = options.nth(i).inner_text()
        options.nth(i).click()
        self.settle()
        return chosen

    def fill(self, label: str, value: str) -> bool:
        box = self.page.get_by_role("textbox", name=re.compile("^" + re.escape(label)))
        if not box.count():
            return False
        box.first.fill(value)
        box.first.press("Enter")
        self.settle()
        return True

    def click_table_row(self, rng: random.Random) -> int | None:
        """Click the selection box of a visible row of the first table (its # column's value)."""
        frame = self.page.locator('[data-testid="stDataFrame"]').first
        if not frame.count():
            return None
        rows = frame.locator("table tbody tr")
        visible = min(rows.count(), 4)
        if not visible:
            return None
        i = rng.randrange(visible)
        box = frame.bounding_box()
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.page.mouse.wheel(0, -100_000)  # from the top: the i-th row drawn is the i-th of the list
        self.page.wait_for_timeout(250)
        self.page.mouse.click(box["x"] + 16, box["y"] + 35 * (i + 1) + 17)
        self.settle()
        return i

    def selected_row(self) -> int | None:
        """The # of the first table's selected row (None: none); the table draws only its visible rows, so it is
        scrolled through to find it, then back to the top."""
        frame = self.page.locator('[data-testid="stDataFrame"]').first
        if not frame.count():
            return None
        found = None
        deadline = time.monotonic() + 2.5  # the grid marks its selection a moment after drawing its rows
        while not frame.locator('table tr[aria-selected="true"]').count() and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
        box = frame.bounding_box()
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        total = int(frame.locator("table").first.get_attribute("aria-rowcount") or 0)
        for _ in range(total // 2 + 8):  # three rows a wheel step, and the grid draws a step late
            row = frame.locator('table tr[aria-selected="true"] td').first
            if row.count() and row.inner_text().strip().isdigit():
                found = int(row.inner_text().strip())
                break
            self.page.mouse.wheel(0, 105)
            self.page.wait_for_timeout(250)
        self.page.mouse.wheel(0, -100_000)
        self.page.wait_for_timeout(150)
        return found


def _english_words(catalogue: str) -> set[str]:
    words = set()
    for _, en in STRINGS.values():
        words |= {w for w in re.findall(r"[A-Za-z]{4,}", re.sub(r"\{[^}]+\}", "", en))}
    words |= {"Select", "Choose", "Browse", "Press", "Running", "options"}  # Streamlit's own words
    return {w for w in words if w not in catalogue and w not in ALLOWED_LATIN}


def _chinese_labels(catalogue: str) -> set[str]:
    labels = set()
    for zh, _ in STRINGS.values():
        if zh.startswith("语言"):
            continue  # the language switch's label speaks both languages on purpose
        for part in re.split(r"[{}（）()：:，,。.！!？?\s·…]+", re.sub(r"\{[^}]+\}", " ", zh)):
            if len(part) >= 3 and re.fullmatch(r"[\u4e00-\u9fff]+", part):
                labels.add(part)
    return {w for w in labels if w not in catalogue}


def check(bench: Bench, world: World, hidden: list[str], english: set[str], chinese: set[str]) -> None:
    """Every invariant, on the page as it is now."""
    page = bench.page
    assert not page.get_by_test_id("stException").count(), "an exception is shown"
    shown = bench.text()
    plain = re.sub(r"\S+@\S+|https?://\S+|TECHMATCH_[A-Z_]+", " ", shown)
    assert not SNAKE.findall(plain), f"raw codes: {SNAKE.findall(plain)[:5]}"
    assert not ACTOR.findall(plain), f"audit actors: {ACTOR.findall(plain)[:3]}"
    if world.lang == "zh":
        bad = sorted({w for w in re.findall(r"[A-Za-z]{4,}", plain) if w in english})
        assert not bad, f"English UI words in Chinese: {bad[:8]}"
    else:
        bad = sorted(label for label in chinese if label in plain)
        assert not bad, f"Chinese UI labels in English: {bad[:8]}"
    if world.role in ("firm", "institution"):
        leaked = [h for h in hidden if h in shown]
        assert not leaked, f"hidden text shown to {world.role}: {leaked[:3]}"
    if world.page == "queue" and world.role in ("broker", "admin"):
        pid = bench.picked_id(bench.t("open_pair", world.lang))
        if pid is not None:
            cand = bench.service.queue.get_candidate(pid)
            cards = page.locator(".listing h4").all_inner_texts()
            assert cards[:2] == [cand["need"]["title"], cand["result"]["title"]], (pid, cards[:2])
            assert bench.selected_row() == pid, f"the table selects #{bench.selected_row()}, the picker #{pid}"
    if world.page == "pipeline" and world.role in ("broker", "admin"):
        pid = bench.picked_id(bench.t("open_pairing", world.lang))
        box = page.get_by_role("textbox", name=re.compile("^" + re.escape(bench.t("next_action", world.lang))))
        if pid is not None and box.count():
            # the form belongs to the open pairing: its stored plan, or (until the form is drawn anew) what was typed
            # for this same pairing — never another pairing's text
            stored = bench.service.pipeline.get_pairing(pid).get("next_action") or ""
            allowed = {stored, world.typed_plans.get(pid, stored)}
            assert box.first.input_value() in allowed, (pid, box.first.input_value(), allowed)


def act(bench: Bench, world: World, rng: random.Random) -> str:
    """One random action that fits the page; returns what was done."""
    lang, t = world.lang, bench.t
    if world.role is None or rng.random() < 0.03:
        role = rng.choice(list(ROLE_PAGES))
        if world.role is not None:
            bench.button(t("signout", lang))
        bench.page.get_by_role("textbox", name=re.compile("^" + re.escape(t("api_key", lang)))).first.fill(
            bench.keys[role])
        bench.page.get_by_role("button", name=t("signin", lang)).first.click()
        bench.settle()
        world.role, world.page = role, ROLE_PAGES[role][0]
        world.typed_plans.clear()
        return f"sign in as {role}"
    roll = rng.random()
    if roll < 0.12:
        target = rng.choice(ROLE_PAGES[world.role])
        bench.click_text(PAGES[target][lang == "en"])
        world.page = target
        return f"go to {target}"
    if roll < 0.17:
        other = "en" if lang == "zh" else "zh"
        bench.click_text("English" if other == "en" else "中文")
        world.lang = other
        return f"language {other}"
    page = world.page
    if page == "queue":
        return _queue(bench, world, rng)
    if page == "pipeline":
        return _pipeline(bench, world, rng)
    if page == "listings":
        return _listings(bench, world, rng)
    if page == "challenges":
        return _challenges(bench, world, rng)
    bench.settle()
    return f"look at {page}"


def _queue(bench: Bench, world: World, rng: random.Random) -> str:
    lang, t = world.lang, bench.t
    choice = rng.choice(["pick", "row", "confirm", "reject", "reject_bare", "undo", "next", "status", "cluster",
                         "search", "pick", "row", "confirm"])
    if choice == "pick":
        return f"pick pair {bench.choose(t('open_pair', lang), rng)}"
    if choice == "row":
        return f"click row {bench.click_table_row(rng)}"
    if choice == "confirm":
        return f"confirm: {bench.button(re.compile(re.escape(t('confirm', lang))))}"
    if choice in ("reject", "reject_bare"):
        if choice == "reject":
            bench.choose(t("reason", lang), rng)
        done = bench.button(re.compile("^✗ " + re.escape(t("reject", lang))))
        return f"{choice}: {done}"
    if choice == "undo":
        return f"undo: {bench.button(re.compile('^↶'))}"
    if choice == "next":
        return f"next: {bench.button(re.compile(re.escape(t('next_pair', lang))))}"
    if choice == "status":
        return f"status {bench.choose(t('status', lang), rng)}"
    if choice == "cluster":
        box = bench.combobox(t("cluster", lang))
        if box.count() and rng.random() < 0.5:
            return f"cluster {bench.choose(t('cluster', lang), rng)}"
        clear = bench.page.get_by_role("button", name=re.compile("Clear all|清除"))
        if clear.count():
            clear.first.click()
            bench.settle()
        return "cluster cleared"
    text = rng.choice(["齿轮", "电池", "测试工业大学", "", "无此文本"])
    bench.fill(t("q_text", lang), text)
    return f"search {text!r}"


def _pipeline(bench: Bench, world: World, rng: random.Random) -> str:
    lang, t = world.lang, bench.t
    choice = rng.choice(["pick", "move", "move_bare", "plan", "type_plan", "pick"])
    if choice == "pick":
        return f"pick pairing {bench.choose(t('open_pairing', lang), rng)}"
    pid = bench.picked_id(t("open_pairing", lang))
    if pid is None:
        return "no pairing"
    if choice in ("move", "move_bare"):
        if choice == "move":
            bench.choose(t("move_to", lang), rng)
        note = bench.page.get_by_role("textbox", name=t("note", lang))
        if note.count():
            note.first.fill(f"备注{rng.randrange(100)}")
        value = bench.page.get_by_role("spinbutton", name=re.compile("^" + re.escape(t("contract_value", lang))))
        if value.count() and rng.random() < 0.5:
            value.first.fill("120")
        done = bench.button(t("move", lang))  # the plan form (keyed by the pairing) keeps what was typed in it
        return f"{choice} #{pid}: {done}"
    action = rng.choice(["约企业面谈", "寄送样品", "签署保密协议", ""])
    box = bench.page.get_by_role("textbox", name=re.compile("^" + re.escape(t("next_action", lang))))
    if not box.count():
        return "no plan form"
    box.first.fill(action)
    if choice == "type_plan":
        world.typed_plans[pid] = action
        box.first.press("Tab")
        bench.settle()
        return f"type plan #{pid} {action!r}"
    date = bench.page.get_by_test_id("stDateInput").filter(has_text=t("due_on", lang)).locator("input")
    if date.count() and action:
        date.first.fill("2026-12-31")
        date.first.press("Enter")
    saved = bench.button(t("save_plan", lang))
    stored = bench.service.pipeline.get_pairing(pid).get("next_action") or ""
    world.typed_plans.pop(pid, None)
    if stored != action:  # refused (an action without a date): what was typed stays in the form
        world.typed_plans[pid] = action
    return f"plan #{pid} {action!r}: {saved}"


def _listings(bench: Bench, world: World, rng: random.Random) -> str:
    lang, t = world.lang, bench.t
    choice = rng.choice(["open", "side", "section_search", "section_post", "post"])
    if choice == "open":
        return f"open listing {bench.choose(t('open_listing', lang), rng)}"
    if choice == "side":
        return f"side: {bench.click_text(rng.choice([t('results', lang), t('needs', lang)]))}"
    if choice == "section_search":
        return f"search section: {bench.click_text(t('search', lang))}"
    if choice == "section_post":
        name = t("post_need", lang) if world.role in ("firm", "broker", "admin") else t("post_result", lang)
        return f"post section: {bench.click_text(name)}"
    if not bench.page.get_by_role("button", name=t("submit", lang)).count():
        return "no form"
    title = f"模型测试需求{rng.randrange(10_000)}"
    for label, value in ((t("org", lang), "模型测试企业"), (t("title", lang), title),
                         (t("contact", lang), "王工 023-62000000")):
        box = bench.page.get_by_role("textbox", name=re.compile("^" + re.escape(label)))
        if box.count():
            box.first.fill(value)
            box.first.press("Tab")
            bench.settle()
    area = bench.page.get_by_role("textbox", name=re.compile("^" + re.escape(t("description", lang))))
    if area.count():
        area.first.fill("希望解决生产中的检测难题，检出率达到95%以上。")
        area.first.press("Tab")
        bench.settle()
    bench.choose(t("cluster", lang), rng)
    return f"post {title}: {bench.button(t('submit', lang))}"


def _challenges(bench: Bench, world: World, rng: random.Random) -> str:
    lang, t = world.lang, bench.t
    if world.role == "institution" and rng.random() < 0.4:
        box = bench.page.get_by_role("textbox", name=re.compile("^" + re.escape(t("proposal", lang))))
        if box.count():
            box.first.fill("以自有工艺揭榜，中试线验证。")
            return f"apply: {bench.button(t('apply', lang))}"
    radios = bench.page.locator('[data-testid="stRadio"]').filter(has_text=t("challenge_mark", lang))
    options = radios.get_by_role("radio")
    if options.count():
        options.nth(rng.randrange(options.count())).click(force=True)
        bench.settle()
        return "open a challenge"
    return "no challenge"


def run_seed(served, seed: int, steps: int) -> None:
    from playwright.sync_api import sync_playwright

    url, data, keys, hidden, catalogue = served
    english, chinese = _english_words(catalogue), _chinese_labels(catalogue)
    rng = random.Random(seed)
    world = World()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        bench = Bench(page, url, keys, data)
        page.goto(url, wait_until="networkidle")
        page.get_by_role("heading", name="登录").wait_for(timeout=120_000)
        try:
            for _ in range(steps):
                world.history.append(act(bench, world, rng))
                check(bench, world, hidden, english, chinese)
        except BaseException as exc:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"seed-{seed}-step-{len(world.history)}.png"), full_page=True)
            _save_seed(seed)
            raise AssertionError(f"seed {seed}, step {len(world.history)} (saved to {SEEDS_FILE.name} for replay): "
                                 f"{exc}\nlast actions: {world.history[-8:]}") from exc
        finally:
            bench.service.close()
            browser.close()


@pytest.mark.parametrize("seed", sorted(set(_saved_seeds())) + CI_SEEDS + EXTRA)
def test_random_sessions_keep_the_workbench_state_model(served, seed):
    run_seed(served, seed, STEPS)
