"""QR codes of listing links: inline SVG for HTML, runs of dark modules for drawing with PDF rectangles."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

BORDER = 2  # quiet zone, in modules (phone scanners read a 2-module zone on a white page)


@lru_cache(maxsize=4096)
def _code(link: str) -> Any:  # a segno.QRCode
    import segno

    return segno.make_qr(link, error="m")  # never a Micro QR, which few phone apps read


def qr_svg(link: str, css_class: str = "qr") -> str:
    """An inline <svg> QR code of `link`, sized by CSS (viewBox, no width or height)."""
    return _code(link).svg_inline(scale=1, border=BORDER, omitsize=True, svgclass=css_class, lineclass=None)


def qr_runs(link: str) -> tuple[int, list[tuple[int, int, int]]]:
    """(modules per side with the quiet zone, dark runs as (row, first column, length)) of `link`'s QR code."""
    matrix = _code(link).matrix
    runs: list[tuple[int, int, int]] = []
    for r, row in enumerate(matrix):
        start = None
        for c, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = c
            elif not dark and start is not None:
                runs.append((r + BORDER, start + BORDER, c - start))
                start = None
    return len(matrix) + 2 * BORDER, runs
