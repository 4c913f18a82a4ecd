"""The published needs catalogue (需求目录) for 揭榜挂帅 calls and the innovation complexes: open public needs by
industry cluster or district, as an importable XLSX, a self-contained HTML page or a printable PDF."""

from matcher.publish.catalogue import FORMATS, GROUPINGS, Publishing, render
from matcher.publish.content import Entry, Group, NeedsCatalogue
from matcher.publish.fonts import CjkFont, find_cjk_font

__all__ = ["FORMATS", "GROUPINGS", "CjkFont", "Entry", "Group", "NeedsCatalogue", "Publishing", "find_cjk_font",
           "render"]
