"""The catalogue as one self-contained web page (inline CSS, inline SVG QR codes), set for Chinese and for print."""

from __future__ import annotations

from html import escape

from matcher.publish.content import Entry, NeedsCatalogue
from matcher.publish.qr import qr_svg

FONTS = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "PingFang SC", '
         '"Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif')
CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #d8dee6; --brand: #1f3864; --red: #b71c1c; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #f4f6f9; font: 15px/1.75 FONTS;
       text-align: justify; line-break: strict; word-break: normal; overflow-wrap: anywhere; }
main, header.cover, nav.toc { max-width: 960px; margin: 0 auto; padding: 0 24px; }
header.cover { background: #fff; margin-top: 24px; padding: 40px 48px 32px; border-top: 8px solid var(--brand); }
header.cover h1 { margin: 0; font-size: 34px; letter-spacing: .12em; color: var(--brand); }
header.cover .sub { margin: 4px 0 24px; color: var(--muted); }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 0 0 24px; }
.figures div { border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; }
.figures dt { color: var(--muted); font-size: 13px; }
.figures dd { margin: 0; font-size: 24px; font-weight: 700; color: var(--brand); }
table.counts { border-collapse: collapse; width: 100%; font-size: 14px; }
table.counts th, table.counts td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; }
table.counts td.n, table.counts th.n { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-size: 13px; margin: 12px 0 0; }
nav.toc { background: #fff; margin-top: 16px; padding: 24px 48px; }
nav.toc h2 { margin: 0 0 8px; font-size: 20px; }
nav.toc ol { margin: 0; padding-left: 1.6em; columns: 2; column-gap: 40px; }
nav.toc a { color: var(--ink); text-decoration: none; }
nav.toc .n { color: var(--muted); margin-left: .5em; }
section.group { background: #fff; margin-top: 16px; padding: 24px 48px; }
section.group > h2 { margin: 0 0 8px; padding: 6px 12px; background: var(--brand); color: #fff; font-size: 19px; }
section.group > h2 small { font-weight: 400; margin-left: .6em; opacity: .85; }
article.need { display: grid; grid-template-columns: 1fr 112px; gap: 4px 20px; padding: 16px 0;
               border-bottom: 1px solid var(--line); break-inside: avoid; }
article.need h3 { grid-column: 1 / -1; margin: 0; font-size: 17px; }
article.need h3 a { color: var(--brand); text-decoration: none; }
article.need h3 .no { color: var(--muted); font-weight: 400; margin-right: .4em; }
.badge { display: inline-block; margin-left: .6em; padding: 0 .5em; font-size: 12px; font-weight: 400;
         color: #fff; background: var(--red); border-radius: 3px; vertical-align: 2px; }
dl.fields { margin: 0; display: grid; grid-template-columns: 5.5em 1fr 5.5em 1fr; gap: 2px 12px; font-size: 14px; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; }
dl.fields .wide { grid-column: span 3; }
.qr { text-align: center; font-size: 11px; color: var(--muted); }
.qr svg { width: 104px; height: 104px; display: block; margin: 0 auto; }
p.desc { grid-column: 1 / -1; margin: 6px 0 0; }
p.link { grid-column: 1 / -1; margin: 0; font-size: 13px; color: var(--muted); word-break: break-all; }
footer { max-width: 960px; margin: 0 auto; padding: 16px 24px 40px; color: var(--muted); font-size: 13px; }
@media print {
  @page { size: A4; margin: 16mm 14mm; }
  body { background: #fff; font-size: 10.5pt; }
  header.cover, nav.toc, section.group { margin: 0; padding: 0; max-width: none; }
  header.cover { border-top: none; min-height: 240mm; }
  nav.toc, section.group { break-before: page; }
  section.group > h2 { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; }
}
@media (max-width: 640px) {
  article.need { grid-template-columns: 1fr; }
  dl.fields { grid-template-columns: 5.5em 1fr; }
  dl.fields .wide { grid-column: auto; }
  nav.toc ol { columns: 1; }
}
""".replace("FONTS", FONTS)


def _field(c: NeedsCatalogue, key: str, value: str, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    return f"<dt>{escape(c.label(key))}</dt><dd{cls}>{escape(value) or '—'}</dd>"


def _entry(c: NeedsCatalogue, e: Entry, number: int) -> str:
    badge = f'<span class="badge">{escape(c.label("challenge"))}</span>' if e.is_challenge else ""
    fields = [_field(c, "org", e.org), _field(c, "district", c.district(e)),
              _field(c, "cluster", c.cluster(e)), _field(c, "budget", c.money(e.budget)),
              _field(c, "deadline", c.deadline(e)), _field(c, "maturity", c.maturity(e)),
              _field(c, "modes", c.modes(e), wide=True), _field(c, "keywords", c.keywords(e), wide=True),
              _field(c, "contact", e.contact, wide=True)]
    if e.is_challenge:
        if e.reward is not None:
            fields.append(_field(c, "reward", c.money(e.reward), wide=True))
        for key, value in (("goal", e.challenge_goal), ("indicators", e.challenge_indicators)):
            if value:
                fields.append(_field(c, key, value, wide=True))
    link = escape(e.link)
    return (f'<article class="need" id="need-{e.id}">'
            f'<h3><span class="no">{number}.</span><a href="{link}">{escape(e.title)}</a>{badge}</h3>'
            f'<dl class="fields">{"".join(fields)}</dl>'
            f'<div class="qr">{qr_svg(e.link)}{escape(c.label("scan"))}</div>'
            f'<p class="desc"><strong>{escape(c.field("description"))}</strong>{escape(e.description) or "—"}</p>'
            f'<p class="link">{escape(c.field("link"))}<a href="{link}">{link}</a></p></article>')


def _cover(c: NeedsCatalogue) -> str:
    f = c.figures()
    boxes = [("published", str(f["published"])), ("budget_total", c.budget_total()),
             ("negotiable_count", str(f["negotiable"])), ("withheld", str(f["withheld"]))]
    figures = "".join(f"<div><dt>{escape(c.label(k))}</dt><dd>{escape(v)}</dd></div>" for k, v in boxes)
    rows = "".join(f'<tr><td><a href="#group-{n}">{escape(g.name)}</a></td><td class="n">{len(g.entries)}</td>'
                   f'<td class="n">{escape(c.money(g.budget))}</td></tr>' for n, g in enumerate(c.groups, 1))
    notes = [c.label("withheld_note", n=f["withheld"])] if f["withheld"] else []
    if not c.base_url:
        notes.append(c.label("relative_note"))
    return (f'<header class="cover"><h1>{escape(c.title)}</h1>'
            f'<p class="sub">{escape(c.subtitle)} · {escape(c.field("date"))}{escape(c.date_text)}</p>'
            f'<dl class="figures">{figures}</dl>'
            f'<table class="counts"><thead><tr><th>{escape(c.label("groups_" + c.by))}</th>'
            f'<th class="n">{escape(c.label("count"))}</th><th class="n">{escape(c.label("budget"))}</th></tr>'
            f'</thead><tbody>{rows}</tbody></table>'
            + "".join(f'<p class="note">{escape(n)}</p>' for n in notes) + "</header>")


def render_html(c: NeedsCatalogue) -> bytes:
    """The page: cover with the figures, table of contents, then each group's needs with their QR codes."""
    toc = "".join(f'<li><a href="#group-{n}">{escape(g.name)}</a><span class="n">'
                  f'{escape(c.label("items", n=len(g.entries)))}</span></li>' for n, g in enumerate(c.groups, 1))
    groups, number = [], 0
    for n, g in enumerate(c.groups, 1):
        items = []
        for e in g.entries:
            number += 1
            items.append(_entry(c, e, number))
        groups.append(f'<section class="group" id="group-{n}"><h2>{escape(g.name)}'
                      f'<small>{escape(c.label("items", n=len(g.entries)))}</small></h2>{"".join(items)}</section>')
    title = f"{c.title}（{c.date.isoformat()}）" if c.lang == "zh" else f"{c.title} ({c.date.isoformat()})"
    page = (f'<!doctype html>\n<html lang="{"zh-CN" if c.lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"{_cover(c)}"
            f'<nav class="toc"><h2>{escape(c.label("toc"))}</h2><ol>{toc}</ol></nav>'
            f'<main>{"".join(groups) or "<p>" + escape(c.label("none")) + "</p>"}</main>'
            f"<footer>{escape(c.title)} · {escape(c.date_text)}</footer></body></html>\n")
    return page.encode("utf-8")
