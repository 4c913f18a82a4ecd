"""The import template: an XLSX a firm or a broker fills in, with the columns the importer reads, one example row,
and the controlled vocabularies as drop-down lists (so a cluster, district or mode is picked, not typed)."""

from __future__ import annotations

import io

from matcher.ingest.vocab import Vocab

# (column header the importer reads, width, vocabulary the column picks from, example value: for a vocabulary
# column the code (or maturity label) the example means, shown by its name — never just the list's first entry)
COLUMNS = {
    "needs": [("需求名称", 30, None, "榨菜腌制减盐与亚硝酸盐控制"),
              ("需求描述", 60, None, "现含盐量12%以上，目标降至6%以下，亚硝酸盐低于国标限量50%，常温保质期≥9个月。"),
              ("需求单位", 24, None, "重庆某榨菜食品有限公司"),
              ("产业集群", 24, "industries", "food_agri"), ("区县", 14, "districts", "涪陵区"),
              ("合作方式", 16, "transfer_modes", "joint_dev"), ("预算", 10, None, 80),
              ("截止日期", 12, None, "2027-06-30"), ("成熟度要求", 14, "maturity", "通过中试"),
              ("关键词", 24, None, "榨菜,减盐,亚硝酸盐"), ("联系人", 20, None, "王工 023-62000000")],
    "results": [("成果名称", 30, None, "齿轮齿面激光淬火强化工艺"),
                ("成果简介", 60, None, "光纤激光扫描淬火替代整体渗碳淬火，硬化层0.8～1.2毫米，变形小于0.02毫米。"),
                ("完成单位", 24, None, "某理工大学"), ("产业集群", 24, "industries", "smart_equipment"),
                ("区县", 14, "districts", "沙坪坝区"), ("成熟度", 14, "maturity", "通过中试"),
                ("知识产权类型", 14, "ip_types", "invention_patent"), ("专利号", 18, None, "ZL2025XXXXXXXX.X"),
                ("合作方式", 16, "transfer_modes", "license"), ("价格", 10, None, "面议"),
                ("关键词", 24, None, "激光淬火,齿轮"), ("联系人", 20, None, "李老师 023-65000000")],
}


def _choices(vocab: Vocab, name: str) -> list[str]:
    """The names a column offers (what the importer resolves back to codes)."""
    if name == "maturity":
        return [m.label for m in vocab.maturity]
    table = getattr(vocab, name)
    return [table.name(c) for c in table.codes]


def _example(vocab: Vocab, name: str, value: str) -> str:
    """The name a vocabulary column's example shows (ValueError when the code is not in the vocabulary)."""
    if name == "maturity":
        if value not in [m.label for m in vocab.maturity]:
            raise ValueError(f"maturity {value!r} is not in the vocabulary")
        return value
    table = getattr(vocab, name)
    if value not in table.codes:
        raise ValueError(f"{name} {value!r} is not in the vocabulary")
    return table.name(value)


def template_xlsx(kind: str, vocab: Vocab) -> bytes:
    """An XLSX template for importing needs or results: headers, an example row, drop-downs from a hidden sheet."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    if kind not in COLUMNS:
        raise ValueError(f"no template for {kind!r}; use needs or results")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "需求" if kind == "needs" else "成果"
    lists = book.create_sheet("选项")
    lists.sheet_state = "hidden"
    columns = COLUMNS[kind]
    sheet.append([c[0] for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFF2CC")
    example = []
    for n, (header, width, source, value) in enumerate(columns, start=1):
        letter = openpyxl.utils.get_column_letter(n)
        sheet.column_dimensions[letter].width = width
        if source is not None:
            options = _choices(vocab, source)
            for row, option in enumerate(options, start=1):
                lists.cell(row=row, column=n, value=option)
            rule = DataValidation(type="list", formula1=f"=选项!${letter}$1:${letter}${len(options)}",
                                  allow_blank=True, showErrorMessage=True,
                                  errorTitle=header, error=f"请从下拉列表中选择{header}")
            rule.add(f"{letter}2:{letter}1000")
            sheet.add_data_validation(rule)
            value = _example(vocab, source, value)
        example.append(value)
    sheet.append(example)
    sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
