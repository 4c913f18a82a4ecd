"""The published needs catalogue (需求目录) for 揭榜挂帅 calls and the innovation complexes: open public needs by
industry cluster or district, as an importable XLSX, a self-contained HTML page or a printable PDF."""

from matcher.publish.catalogue import (
    FORMATS,
    GROUPINGS,
    collect,
    publish,
    publish_to,
    render,
)
from matcher.publish.content import Catalogue, Entry, Group
from matcher.publish.fonts import CjkFont, find_cjk_font

__all__ = ["FORMATS", "GROUPINGS", "Catalogue", "CjkFont", "Entry", "Group", "collect", "find_cjk_font", "publish",
           "publish_to", "render"]
