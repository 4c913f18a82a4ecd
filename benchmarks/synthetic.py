"""Synthetic catalogues for scale benchmarks.

Texts: each listing combines a material/object, a process, a performance target and an application from word
lists (a few hundred phrases), so titles and abstracts are varied Chinese with realistic term statistics.
Vectors: every phrase is encoded once with the real encoder; a listing's vector is the normalised sum of its
phrases' vectors plus small Gaussian noise. This keeps the geometry of real embeddings (listings sharing phrases
are close) without encoding 100k texts on a 2-core machine (~35 minutes with e5-small).
"""

from __future__ import annotations

import itertools
import time

import numpy as np

OBJECTS = ("齿轮", "轴承", "铝合金压铸件", "锂电池正极", "固态电解质", "OLED面板", "功率芯片", "传感器", "减速器",
           "摩托车发动机", "榨菜", "火锅底料", "中药材", "苎麻纤维", "光伏组件", "氢燃料电池", "工业机器人", "数控机床",
           "汽车线束", "镁合金", "碳纤维复合材料", "生物疫苗", "医用导管", "柑橘", "茶叶", "智能网联汽车", "储能电站",
           "工业软件", "边缘计算网关", "显示驱动芯片", "陶瓷基板", "涂层刀具", "焊接机器人", "污水处理设备", "高分子膜")
PROCESSES = ("激光淬火", "真空压铸", "原子层沉积包覆", "机器视觉检测", "深度学习识别", "低温发酵", "超声辅助提取",
             "生物酶处理", "拓扑优化设计", "数字孪生建模", "热处理工艺优化", "表面纳米化", "精密注塑", "在线监测",
             "故障预测", "湿法回收", "干法电极", "柔性封装", "等离子喷涂", "增材制造", "智能调度算法", "低盐腌制",
             "冷链保鲜", "膜分离纯化", "振动信号分析", "多传感器融合", "高通量筛选", "绿色合成", "快速成型")
TARGETS = ("寿命提升30%", "成本降低20%", "良品率达到99.5%", "能耗下降25%", "检测节拍小于2秒", "强度大于300MPa",
           "能量密度达到280Wh/kg", "货架期延长6个月", "回收率大于95%", "精度达到0.01毫米", "减重18%", "效率提高40%")
APPLICATIONS = ("新能源汽车", "风电装备", "消费电子", "食品加工", "医疗器械", "轨道交通", "航空航天", "智能制造产线",
                "储能系统", "农产品加工", "化工园区", "电子信息制造")


def make_texts(n: int, seed: int = 0) -> tuple[list[dict], list[tuple[int, int, int, int]]]:
    """n result rows (title, abstract, …) and, for each, the indexes of its four phrases."""
    rng = np.random.default_rng(seed)
    rows, parts = [], []
    for i in range(n):
        o, p, t, a = (int(rng.integers(len(x))) for x in (OBJECTS, PROCESSES, TARGETS, APPLICATIONS))
        title = f"{OBJECTS[o]}{PROCESSES[p]}技术" if i % 3 else f"一种基于{PROCESSES[p]}的{OBJECTS[o]}制备方法"
        abstract = (f"针对{APPLICATIONS[a]}领域{OBJECTS[o]}的关键问题，采用{PROCESSES[p]}方法，实现{TARGETS[t]}。"
                    f"已完成样品验证，编号{i}。")
        rows.append({"title": title, "abstract": abstract, "industry": "smart_equipment", "trl": 1 + i % 9,
                     "maturity_label": "通过中试", "ip_type": "invention_patent", "transfer_modes": ["license"],
                     "keywords": [OBJECTS[o], PROCESSES[p]], "status": "listed", "price_negotiable": 1})
        parts.append((o, p, t, a))
    return rows, parts


def phrase_vectors(encoder) -> list[np.ndarray]:
    """The encoder's document vectors of every phrase list."""
    return [encoder.encode_documents(list(x)) for x in (OBJECTS, PROCESSES, TARGETS, APPLICATIONS)]


def make_vectors(parts, phrase_vecs, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """Vectors built from the phrases' real embeddings plus noise, L2-normalised."""
    rng = np.random.default_rng(seed + 1)
    idx = np.asarray(parts)
    dim = phrase_vecs[0].shape[1]
    out = np.zeros((len(parts), dim), dtype=np.float32)
    for start in range(0, len(parts), 100_000):  # in float32 chunks: no float64 temporaries of the whole block
        block = out[start:start + 100_000]
        for col, vecs in enumerate(phrase_vecs):
            block += vecs[idx[start:start + 100_000, col]]
        block += rng.standard_normal(block.shape, dtype=np.float32) * np.float32(noise)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return out


def build_catalogue(service, n_results: int, n_needs: int = 50, seed: int = 0) -> float:
    """Fill an empty catalogue with synthetic needs and results, their vectors put into the embedding cache (as a
    bulk encoder would), then load the service: it builds its indexes from the store and writes a snapshot."""
    from matcher.retrieval.documents import document_text

    t0 = time.perf_counter()
    rows, parts = make_texts(n_results, seed)
    with service.store.transaction():
        service.store.insert_many("results", rows)
    needs = []
    need_parts = list(itertools.islice(itertools.cycle(parts), n_needs))
    for i, (o, p, t, a) in enumerate(need_parts):
        needs.append({"title": f"{OBJECTS[o]}{PROCESSES[p]}需求", "description":
                      f"我司{APPLICATIONS[a]}产品的{OBJECTS[o]}存在问题，希望引入{PROCESSES[p]}，目标{TARGETS[t]}。",
                      "industry": "smart_equipment", "status": "open", "confidentiality": "public",
                      "wanted_trl_min": 1, "wanted_trl_max": 9, "coop_modes": ["license"],
                      "keywords": [], "is_challenge": 0, "budget_negotiable": 1, "ref": f"SYN-N{i}"})
    with service.store.transaction():
        service.store.insert_many("needs", needs)
    del rows
    enc = service.indexes.encoder
    phrases = phrase_vectors(enc)
    for side, vectors in (("results", make_vectors(parts, phrases, seed)),
                          ("needs", make_vectors(need_parts, phrases, seed + 7))):
        done = 0
        for page in service.store.text_pages(side):  # in id order = insertion order, like `parts`
            enc.put("document", [document_text(side, r) for r in page], vectors[done:done + len(page)])
            done += len(page)
        del vectors
    service.load()
    return time.perf_counter() - t0


def synthetic_results(service, n: int, seed: int) -> list[dict]:
    """`n` new result rows whose vectors are already in the embedding cache (so adding them encodes nothing)."""
    from matcher.ingest.schemas import ResultIn
    from matcher.retrieval.documents import document_text

    rows, parts = make_texts(n, seed)
    for i, row in enumerate(rows):
        row["title"] = f"{row['title']}第{seed}批{i}号"
        row.pop("maturity_label", None)
    stored = [ResultIn.model_validate(r).model_dump() for r in rows]  # the text as the store will hold it
    vecs = make_vectors(parts, phrase_vectors(service.indexes.encoder), seed)
    service.indexes.encoder.put("document", [document_text("results", r) for r in stored], vecs)
    return rows
