"""Every word a broker reads exists in both languages: interface strings, vocabularies and summary lines; in
English mode the queue shows no Chinese label."""

from __future__ import annotations

import re
import string
from pathlib import Path

from matcher.ingest.vocab import load_vocab
from ui import auth
from ui.i18n import STRINGS, t

from .conftest import app

UI = Path(__file__).resolve().parents[2] / "ui"
VOCAB = Path(__file__).resolve().parents[2] / "data" / "vocab"
CJK = re.compile(r"[\u4e00-\u9fff]")
BILINGUAL = {"language", "app_title"}  # labels that name both languages on purpose (the switch itself)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_interface_string_is_in_both_languages_with_the_same_placeholders():
    used = set()
    for path in UI.rglob("*.py"):
        used |= set(re.findall(r'\bt\("([a-z_0-9]*[a-z0-9])"', path.read_text("utf-8")))
    # keys built at run time: page names, roles, candidate statuses
    used |= set(auth.PAGE_ROLES) | {f"role_{r}" for r in ("firm", "institution", "broker", "admin")}
    used |= {"pending", "confirmed", "rejected"}
    missing = sorted(used - set(STRINGS))
    assert not missing, f"strings used but not defined: {missing}"
    for key, (zh, en) in STRINGS.items():
        assert zh.strip() and en.strip(), key
        assert _fields(zh) == _fields(en), f"{key}: placeholders differ"
        if key not in BILINGUAL:
            assert not CJK.search(en), f"{key}: Chinese in the English string {en!r}"
            assert CJK.search(zh) or not re.search(r"[a-z]{4,}", zh), f"{key}: English in the Chinese string {zh!r}"
    assert t("no_such_key", "en") == "no_such_key"  # an unknown key shows itself (and fails the test above)


def test_every_vocabulary_entry_has_an_english_name():
    v = load_vocab(VOCAB)
    tables = [v.industries, v.districts, v.transfer_modes, v.ip_types, v.org_kinds, v.need_statuses,
              v.result_statuses, v.confidentiality, v.reject_reasons, v.pairing_stages]
    for table in tables:
        for code in table.codes:
            english = table.name(code, "en")
            assert english != table.name(code, "zh") and not CJK.search(english), (table.kind, code, english)
    for level in v.maturity:
        assert level.name("en") and not CJK.search(level.name("en")), level.label


def test_the_queue_in_english_shows_no_chinese_label(workbench):
    """After switching to English on the queue: the page stays open, every choice, metric, badge and the summary
    line are English (listing texts, which brokers read as written, are the only Chinese)."""
    at = app(workbench).run()
    at.sidebar.radio(key="lang").set_value("English").run()
    assert not at.exception
    assert at.header[0].value == "Review queue" and at.sidebar.radio(key="page").value == "queue"
    texts = []
    for box in [*at.selectbox, *at.multiselect, *at.radio]:
        if box.key in ("pair",):  # its labels are the listings' own titles
            continue
        texts += [box.label] + [str(box.format_func(o)) if hasattr(box, "format_func") else str(o)
                                for o in box.options]
    texts += [m.label for m in at.metric] + [c.value for c in at.caption] + [i.value for i in at.info]
    cards = [m.value for m in at.markdown if 'class="listing"' in m.value or "badge" in m.value]
    assert cards
    for html_text in cards:
        texts += re.findall(r'<span class="badge[^"]*">([^<]*)</span>', html_text.split("Shared key terms")[0])
    # what brokers read as written: organisation names, the shared terms quoted from the listings
    texts = [re.sub(r"^shared terms: [^;]*; ", "", x).replace("测试技术转移中心", "") for x in texts]
    chinese = [x for x in texts if CJK.search(x) and x not in ("中文", t("language"))]
    assert not chinese, chinese
