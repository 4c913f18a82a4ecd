"""The CJK font a PDF catalogue is set in: the Simplified Chinese face of an installed font (Noto Sans CJK from
Debian's fonts-noto-cjk first), or the file TECHMATCH_CJK_FONT names. No font, no PDF: never a page of tofu."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from matcher.errors import Invalid

# regular faces where common systems install a Chinese font, best first (each one's bold is found beside it)
CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch noto-fonts-cjk
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSansSC-Regular.otf",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSans-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
# fonts for the characters a CJK font lacks (superscripts and subscripts: 10⁻⁶, CO₂), first found is used
FALLBACKS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian/Ubuntu fonts-dejavu-core
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
SIMPLIFIED = re.compile(r"\b(SC|CN|GB|Simplified)\b|简")
PROBE = "中请经济"  # characters of Simplified Chinese a face must draw (请, 经, 济 are simplified forms)
INSTALL = ("install a Chinese font (Debian/Ubuntu: apt-get install fonts-noto-cjk) or set TECHMATCH_CJK_FONT to a "
           ".ttf, .otf or .ttc font file with Chinese glyphs")


@dataclass(frozen=True)
class CjkFont:
    """A regular and a bold face (file, index in a collection; the bold is the regular when none was found), and a
    font for the characters they lack, if one is installed."""

    regular: Path
    regular_index: int
    bold: Path
    bold_index: int
    fallback: Path | None = None


@lru_cache(maxsize=32)
def face_index(path: Path) -> int | None:
    """The index of the file's Simplified Chinese face (by its name, then by drawing PROBE); None when no face of
    the file draws Chinese (or it is not a font)."""
    from fontTools.ttLib import TTCollection, TTFont

    try:
        with path.open("rb") as f:
            collection = f.read(4) == b"ttcf"
        faces = TTCollection(str(path), lazy=True).fonts if collection else [TTFont(str(path), lazy=True)]
    except Exception:
        return None

    def rank(pair: tuple[int, object]) -> tuple[bool, bool, int]:
        n, face = pair
        name = str(face["name"].getDebugName(16) or face["name"].getDebugName(1) or "")
        return (not SIMPLIFIED.search(name), "mono" in name.lower(), n)

    for n, face in sorted(enumerate(faces), key=rank):
        try:
            cmap = face.getBestCmap() or {}
        except Exception:
            continue
        if all(ord(c) in cmap for c in PROBE):
            return n
    return None


def _bold_beside(regular: Path) -> Path | None:
    """The bold file of a family named like the regular one (NotoSansCJK-Regular.ttc → NotoSansCJK-Bold.ttc)."""
    for a, b in (("Regular", "Bold"), ("regular", "bold"), ("-R.", "-B."), ("msyh.", "msyhbd.")):
        if a in regular.name:
            bold = regular.with_name(regular.name.replace(a, b))
            if bold.is_file():
                return bold
    return None


def _font(regular: Path, bold: Path | None) -> CjkFont | None:
    index = face_index(regular)
    if index is None:
        return None
    fallback = next((Path(p) for p in FALLBACKS if Path(p).is_file()), None)
    bold_index = face_index(bold) if bold is not None and bold.is_file() else None
    if bold is None or bold_index is None:
        return CjkFont(regular, index, regular, index, fallback)
    return CjkFont(regular, index, bold, bold_index, fallback)


def _fontconfig() -> Path | None:
    """The file fontconfig picks for Simplified Chinese sans text, where fc-match is installed."""
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}", "sans-serif:lang=zh-cn"], capture_output=True,
                               text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(found) if found else None


def find_cjk_font(override: str | Path | None = None) -> CjkFont:
    """The CJK font to set a PDF in: `override` (TECHMATCH_CJK_FONT) when given, else the first installed one.

    Raises Invalid, saying how to install one, when none is found or the override draws no Chinese."""
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise Invalid(f"the CJK font {str(path)!r} (TECHMATCH_CJK_FONT) does not exist; {INSTALL}")
        font = _font(path, _bold_beside(path))
        if font is None:
            raise Invalid(f"the font {str(path)!r} (TECHMATCH_CJK_FONT) has no Simplified Chinese glyphs; {INSTALL}")
        return font
    for name in CANDIDATES:
        regular = Path(name)
        if regular.is_file():
            font = _font(regular, _bold_beside(regular))
            if font is not None:
                return font
    fallback = _fontconfig()
    if fallback is not None and fallback.is_file():
        font = _font(fallback, _bold_beside(fallback))
        if font is not None:
            return font
    raise Invalid(f"no font with Chinese glyphs was found for the PDF catalogue: {INSTALL}")
