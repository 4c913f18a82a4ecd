"""Text cues of a well-specified need: quantified targets, the current state, constraints, a time frame, a maturity.

Each detector works on sentences (or their clauses) of the need's own text, so the same evidence scores a draft,
quotes a neighbour's sentence as an example, and fills a research-topic draft.
"""

from __future__ import annotations

import re

from matcher.retrieval.text import sentences

# -- quantities -------------------------------------------------------------------------------
# each number is read from its first digit only (a lookbehind), and spaces around it are bounded: a draft of 20,000
# digits is then read in linear time, not by trying every suffix of the run (quadratic)
_ARABIC = r"(?<![\d.])\d+(?:\.\d+)?"
_CHINESE = r"(?<![一二两三四五六七八九十百千半])[一二两三四五六七八九十百千半]+"
_UNIT_WORDS = (
    "% ％ ‰ ppm ppb mm 毫米 μm um 微米 nm 纳米 cm 厘米 米 km 公里 m² m³ 平方米 立方米 kg 千克 公斤 克 mg 毫克 μg 吨 "
    "t 小时 h 分钟 min 秒 s ms 毫秒 天 日 周 个月 月 年 次 倍 ℃ °C 度 MPa GPa kPa Pa N kN V kV mV A mA W kW MW "
    "kWh 千瓦时 度电 Hz kHz MHz GHz dB Ah mAh Wh lm lux Ω HRC HV rpm r/min 转 L 升 ml mL 毫升 元 万元 亿元 "
    "件 台 套 颗 层 级 项 位 bit 帧 fps 个百分点 目 mesh 万吨 万件 万套 万台 吨/年 t/h 米/秒 m/s km/h")
_UNITS = sorted(_UNIT_WORDS.split(), key=len, reverse=True)
_UNIT = "|".join(re.escape(u) for u in _UNITS)
# Chinese numerals only with units of time or scale (一种, 一体化 and 一次性 are no quantities)
_CN_UNIT = "个月|小时|周|天|年|倍|成"
_COMPARATOR = ("≥|≤|≧|≦|>|<|＞|＜|±|不低于|不少于|不超过|不高于|不大于|不小于|不得超过|不得低于|高于|低于|大于|小于|"
               "超过|至少|最高|最低|达到|达|降至|降到|减至|提升至|提高到|提高至|控制在|小于等于|大于等于|提前|缩短至|缩短到|"
               "延长至|延长到")
QUANTITY = re.compile(
    rf"(?:(?:{_COMPARATOR})\s{{0,3}}(?:{_ARABIC}|{_CHINESE}(?:{_CN_UNIT})))"
    rf"|(?:{_ARABIC})\s{{0,3}}(?:{_UNIT})(?![A-Za-z])"
    rf"|(?:{_CHINESE})(?:{_CN_UNIT})(?:以上|以下|以内|之内|内)")
# dates and years are no indicators: 2020年, 2026-03-01, 2027年6月
_DATE = re.compile(r"(?:19|20)\d{2}\s{0,3}(?:年(?:\d{1,2}月(?:\d{1,2}日)?)?|[-/.]\d{1,2}(?:[-/.]\d{1,2})?)")
# what makes a quantity a target rather than a figure about the present: a direction or bound, or a performance
# attribute it is the value of (精度0.01mm)
_BOUND = _COMPARATOR.replace("|达|", "|")
_TARGET = re.compile(
    rf"{_BOUND}|提升|提高|降低|减少|缩短|延长|增加|以上|以下|以内|之内|不超|目标|指标|要求|确保|保证|实现|"
    r"精度|误差|偏差|效率|寿命|合格率|良率|良品率|成品率|不良率|回收率|收率|转化率|纯度|强度|硬度|含量|能耗|功耗|"
    r"速度|速率|产能|周期|时间|耗时|响应|准确率|识别率|检出率|灵敏度|分辨率|稳定性|一致性|保质期|噪声|噪音|温度|"
    r"压力|容量|密度|损耗|排放|浓度")

# -- other cues -------------------------------------------------------------------------------
STATE = re.compile(
    r"现状|目前|现有|当前|现在|现阶段|现行|原有|已有|传统|一直|长期|以往|过去|我司|我公司|本公司|公司现|现采用|现使用|"
    r"每年|年产|日产|月产|产量|规模(?!化)|问题|瓶颈|难题|难点|不足|缺陷|痛点|损坏|故障|不稳定|偏高|偏低|过高|过低|较高|较低|"
    r"较大|较差|较多|容易|易于?出现|导致|(?<!制)造成|出现|存在|依赖进口|受制于|卡脖子|无法|难以|不能满足|多次")
# a constraint bounds or conditions the solution: cost is one when it is bounded (成本不超过…; 成本高 is the current
# state, 降低成本 a goal), size and energy likewise; "不能满足" is a state, "不能改变" a constraint
_LIMIT = "须|需|应|要|不超过|不高于|不大于|不得|控制在|低于|小于|上限|限制|限定|以内|≤|在\\d"
CONSTRAINT = re.compile(
    rf"(?:成本|费用|价格|造价|投资|投入|体积|尺寸|重量|能耗|功耗|占地)(?:{_LIMIT})|(?:不增加|不提高)(?:成本|费用)|"
    r"不超过|不高于|不大于|不得|不影响|不改变|不降低|不含|不使用|无需|免去|不能(?:改变|影响|超过|高于|低于|使用|含|增加)|"
    r"兼容|适配|适用于|匹配|要求|限制|限于|前提|必须|须(?:符合|满足|通过|保证|在)|需符合|符合|满足.{0,8}(?:标准|要求|规定)|"
    r"国标|行标|国家标准|行业标准|认证|达标|(?:环保|安全)(?:要求|标准|规范)|现有(?:设备|产线|生产线|工艺|系统|条件)")
TIME_FRAME = re.compile(
    rf"(?:{_ARABIC}|{_CHINESE})\s{{0,3}}(?:个月|年|周|天|日)(?:内|之内|以内)|年底前|年内|月底前|前完成|之前完成|截止|工期|"
    r"(?:19|20)\d{2}\s{0,3}年(?:\d{1,2}月)?(?:前|之前|底|底前)")
MATURITY = re.compile(r"小试|中试|样机|样品|量产|产业化|工程化|示范|实验室阶段|成熟技术|成熟度|TRL|trl")
NEGOTIABLE = re.compile(r"面议|预算待定|费用待定|价格面议")
GOAL = re.compile(r"希望|需要|需求|寻求|寻找|征集|拟|计划|目标|实现|旨在|要求|期望|亟需|急需|研发|研制|开发|解决")
_CLAUSE = re.compile(r"[，,；;：:]")
# a quantity said after 目前/现状… describes the present unless its clause aims at something (需要…达到1万件以上)
_PRESENT = re.compile(r"目前|现有|现状|当前|现在|现阶段|现行|传统|原有|以往|过去|只能|仅能|由于")
_AIM = re.compile(rf"{_BOUND}|需要|希望|要求|期望|目标|指标|力争|确保|保证|提升|提高|降低|减少|缩短|延长|增加|"
                  r"实现|达到")
_LEAD = re.compile(r"^(?:现在|目前|希望|期望|需要|要求|并且|并|且|同时|力争|确保|保证|使其|使)+")


def clauses(sentence: str) -> list[str]:
    """The comma-separated parts of a sentence (an indicator is usually one clause of a longer sentence)."""
    return [c.strip(" 、。！？!?") for c in _CLAUSE.split(sentence) if c.strip(" 、。！？!?")]


def quantities(text: str) -> list[str]:
    """Quantities with a unit, percent or bound in a text (降至6%以下, ≥9个月, 0.01mm), dates left out."""
    return [m.group(0) for m in QUANTITY.finditer(_DATE.sub("", text or ""))]


def is_target(clause: str) -> bool:
    """A clause that states a quantified target: a quantity with a direction, a bound or a performance attribute."""
    clean = _DATE.sub("", clause)
    return bool(quantities(clean)) and bool(_TARGET.search(clean))


def sentence_targets(sentence: str) -> list[str]:
    """The clauses of one sentence that state quantified targets: a figure about the present (目前年需求量15万吨以上,
    现状：寿命在1200件左右) is none, unless its own clause aims at something."""
    out, context = [], ""
    for c in clauses(sentence):
        context += c
        if is_target(c) and (not _PRESENT.search(context) or _AIM.search(c)):
            out.append(c)
    return out


def target_clauses(text: str) -> list[str]:
    """The clauses of a text that state quantified targets, in order, without their lead-in (希望…, 使…): e.g.
    接触疲劳寿命提升30%以上."""
    return [_LEAD.sub("", c) or c for s in sentences(text) for c in sentence_targets(s)]


def quantified_sentences(text: str) -> list[str]:
    """Sentences holding at least one quantity, those stating a target first (the example a need's author is
    shown)."""
    found = [s for s in sentences(text) if quantities(s)]
    return sorted(found, key=lambda s: not sentence_targets(s))


def state_sentences(text: str) -> list[str]:
    """Sentences describing the current state: what is done now, at what scale, and what goes wrong."""
    return [s for s in sentences(text) if STATE.search(s)]


def constraint_sentences(text: str) -> list[str]:
    """Sentences stating constraints: cost ceilings, compatibility, standards, conditions that must hold."""
    return [s for s in sentences(text) if CONSTRAINT.search(s)]


def constraint_clauses(text: str) -> list[str]:
    """The clauses of a text that state constraints (for a research-topic draft)."""
    return [c for s in sentences(text) for c in clauses(s) if CONSTRAINT.search(c)]


def goal_sentences(text: str) -> list[str]:
    """Sentences saying what the firm wants achieved (希望…, 需要…, 目标…)."""
    return [s for s in sentences(text) if GOAL.search(s)]


def time_frame(text: str) -> str | None:
    """The first phrase giving a time frame (6个月内, 2027年底前), or None."""
    m = TIME_FRAME.search(text or "")
    return m.group(0) if m else None


def maturity_mention(text: str) -> str | None:
    """The first maturity word in a text (中试, 量产, 样机…), or None."""
    m = MATURITY.search(text or "")
    return m.group(0) if m else None


def says_negotiable(text: str) -> bool:
    """Whether the text itself says the budget is negotiable (面议)."""
    return bool(NEGOTIABLE.search(text or ""))
