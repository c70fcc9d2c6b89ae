"""The graph model as a self-contained SVG picture (``kbgraph model --format svg``).

Pure Python, no layout service or system binary: labels are boxes (property nodes are pills) on a
line (one or two labels) or a circle, relationship types are arrows between them (several between
one pair bend apart; a type from a label to itself is a loop outside the circle), and every box and
arrow says which table and rule feed it. Text widths are estimated (East Asian characters count
double), so the picture stays readable without measuring fonts.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from xml.sax.saxutils import escape

from kbgraph.graph_model import _PALETTE, GraphModel, NodeType, RelType

FONT = 12
LINE = 16  # line height
PAD = 8
WRAP = 46  # characters per line in a box


def text_width(s: str, size: float = FONT) -> float:
    return sum(size * (1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6) for c in s)


def _wrap(s: str, width: int = WRAP) -> list[str]:
    """Break at ', ' or spaces so no line is much wider than ``width`` characters."""
    out, line = [], ""
    for word in s.replace(" ", " \u0000").split("\u0000"):
        if line and len(line) + len(word.rstrip()) > width:
            out.append(line.rstrip())
            line = word
        else:
            line += word
    return out + [line.rstrip()] if line.strip() else out


@dataclass
class Box:
    node: NodeType
    head: str
    lines: list[tuple[str, str]]  # (class, text)
    w: float
    h: float
    x: float = 0.0  # centre
    y: float = 0.0
    color: str = "#A5ABB6"

    def border(self, dx: float, dy: float) -> tuple[float, float]:
        """Where the ray from the centre in direction (dx, dy) leaves the box."""
        t = min(self.w / 2 / abs(dx) if dx else math.inf, self.h / 2 / abs(dy) if dy else math.inf)
        return self.x + dx * t, self.y + dy * t


def _box(n: NodeType, color: str) -> Box:
    head = ":" + ":".join([n.label, *n.more])
    lines: list[tuple[str, str]] = []
    if n.chosen:
        lines += [("body", x) for x in _wrap(f"+ one of :{' :'.join(n.chosen[1])} (column {n.chosen[0]})")]
    if n.key:
        lines.append(("key", "key " + ", ".join(n.key)))
    if n.properties:
        lines += [("body", x) for x in _wrap(", ".join(n.properties))]
    lines += [("small", x) for f in n.fed_by for x in _wrap("← " + f)] or [("small", "(no entity rule: only stubs)")]
    w = max(text_width(head, FONT + 2), *(text_width(x) for _, x in lines)) + 2 * PAD
    h = LINE + 10 + LINE * len(lines) + PAD
    return Box(n, head, lines, w + (16 if n.property_node else 0), h, color=color)


def _rel_lines(r: RelType) -> list[tuple[str, str]]:
    lines = [("type", x) for x in _wrap(" / ".join(r.types), 40)]
    if r.properties:
        lines += [("body", x) for x in _wrap("{" + ", ".join(r.properties) + "}", 40)]
    return lines + [("small", x) for x in _wrap("← " + r.fed_by, 40)]


class _Canvas:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.x0 = self.y0 = math.inf
        self.x1 = self.y1 = -math.inf

    def grow(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.x0, self.y0 = min(self.x0, x0), min(self.y0, y0)
        self.x1, self.y1 = max(self.x1, x1), max(self.y1, y1)

    def label(self, cx: float, cy: float, lines: list[tuple[str, str]]) -> None:
        """A relationship's text, on a white plate centred at (cx, cy)."""
        w = max(text_width(x) for _, x in lines) + 2 * 6
        h = LINE * len(lines) + 6
        x, y = cx - w / 2, cy - h / 2
        self.grow(x, y, x + w, y + h)
        self.parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" class="plate"/>')
        for i, (cls, line) in enumerate(lines):
            self.parts.append(f'<text x="{cx:.1f}" y="{y + 3 + LINE * (i + 1) - 4:.1f}" text-anchor="middle" '
                              f'class="{cls}">{escape(line)}</text>')


def _layout(boxes: list[Box], rel_width: float) -> tuple[float, float]:
    """Place the boxes; returns the layout's centre (loops point away from it)."""
    n = len(boxes)
    if n <= 2:
        x = 0.0
        for b in boxes:
            b.x, b.y = x + b.w / 2, 0.0
            x += b.w + rel_width + 80
        return (boxes[0].x + boxes[-1].x) / 2 if boxes else 0.0, 0.0
    size = max(max(b.w, b.h) for b in boxes)
    r = max((size + rel_width * 0.6) / (2 * math.sin(math.pi / n)), size)
    for i, b in enumerate(boxes):
        a = -math.pi / 2 + 2 * math.pi * i / n
        b.x, b.y = r * math.cos(a), r * math.sin(a)
    return 0.0, 0.0


def _edge(c: _Canvas, a: Box, b: Box, bend: float, lines: list[tuple[str, str]]) -> None:
    dx, dy = b.x - a.x, b.y - a.y
    d = math.hypot(dx, dy) or 1.0
    px, py = -dy / d, dx / d
    mx, my = (a.x + b.x) / 2 + px * bend, (a.y + b.y) / 2 + py * bend
    sx, sy = a.border(mx - a.x, my - a.y)
    ex, ey = b.border(mx - b.x, my - b.y)
    c.parts.append(f'<path d="M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}" class="rel"/>')
    c.label(0.25 * sx + 0.5 * mx + 0.25 * ex, 0.25 * sy + 0.5 * my + 0.25 * ey, lines)


def _loop(c: _Canvas, b: Box, ux: float, uy: float, reach: float, lines: list[tuple[str, str]]) -> None:
    qx, qy = -uy, ux
    sx, sy = b.border(ux - 0.45 * qx, uy - 0.45 * qy)
    ex, ey = b.border(ux + 0.45 * qx, uy + 0.45 * qy)
    c1 = (sx + ux * reach - qx * 40, sy + uy * reach - qy * 40)
    c2 = (ex + ux * reach + qx * 40, ey + uy * reach + qy * 40)
    c.parts.append(f'<path d="M{sx:.1f},{sy:.1f} C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} '
                   f'{ex:.1f},{ey:.1f}" class="rel"/>')
    ax, ay = (sx + 3 * c1[0] + 3 * c2[0] + ex) / 8, (sy + 3 * c1[1] + 3 * c2[1] + ey) / 8
    w = max(text_width(x) for _, x in lines) + 12
    h = LINE * len(lines) + 6
    # just outside the apex: the plate's half-extent along the loop's direction
    out = min(w / 2 / abs(ux) if ux else math.inf, h / 2 / abs(uy) if uy else math.inf)
    c.label(ax + ux * out, ay + uy * out, lines)


def _draw_box(c: _Canvas, b: Box) -> None:
    x, y = b.x - b.w / 2, b.y - b.h / 2
    c.grow(x, y, x + b.w, y + b.h)
    rx = 18 if b.node.property_node else 6
    c.parts.append(f'<g><title>{escape(b.head)}</title>'
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="{rx}" '
                   f'class="node" style="stroke:{b.color}"/>')
    r, hh = rx - 1, LINE + 6  # the header: a band with the box's top corners
    c.parts.append(f'<path d="M{x + 1:.1f},{y + 1 + hh:.1f} v{r - hh:.1f} a{r},{r} 0 0 1 {r},{-r} h{b.w - 2 - 2 * r:.1f} '
                   f'a{r},{r} 0 0 1 {r},{r} v{hh - r:.1f} z" style="fill:{b.color}"/>')
    c.parts.append(f'<text x="{b.x:.1f}" y="{y + LINE + 1:.1f}" text-anchor="middle" class="head">{escape(b.head)}</text>')
    for i, (cls, line) in enumerate(b.lines):
        c.parts.append(f'<text x="{b.x:.1f}" y="{y + LINE + 10 + LINE * (i + 1) - 3:.1f}" text-anchor="middle" '
                       f'class="{cls}">{escape(line)}</text>')
    c.parts.append("</g>")


STYLE = (
    "text{font-family:'DejaVu Sans',Verdana,Arial,'Noto Sans CJK SC',sans-serif;font-size:12px;fill:#222}"
    ".head{font-size:14px;font-weight:bold;fill:#fff}.type{font-weight:bold}.small{font-size:11px;fill:#555}"
    ".key{font-style:italic}"
    ".node{fill:#fff;stroke-width:2}.plate{fill:#fff;stroke:#ccc;stroke-width:0.6;fill-opacity:0.94}"
    ".rel{fill:none;stroke:#555;stroke-width:1.4;marker-end:url(#arrow)}"
    ".title{font-size:15px;font-weight:bold}"
)


def svg(g: GraphModel, title: str = "graph model") -> str:
    """The picture of ``g`` as an SVG document."""
    boxes = {label: _box(n, _PALETTE[i % len(_PALETTE)][1]) for i, (label, n) in enumerate(g.nodes.items())}
    rel_lines = [_rel_lines(r) for r in g.relationships]
    rel_width = max([text_width(x) for ls in rel_lines for _, x in ls] or [60]) + 12
    cx, cy = _layout(list(boxes.values()), rel_width)
    c = _Canvas()
    pairs: dict[frozenset[str], list[int]] = {}
    for i, r in enumerate(g.relationships):
        pairs.setdefault(frozenset((r.source, r.target)), []).append(i)
    for key, idx in pairs.items():
        if len(key) == 1:
            b = boxes[r_label(g, idx[0])]
            if len(boxes) <= 2:  # on a line: loops go up, down, up further, …
                for k, i in enumerate(idx):
                    sign = -1 if k % 2 == 0 else 1
                    _loop(c, b, 0.0, float(sign), 50 + (k // 2) * (LINE * len(rel_lines[i]) + 60), rel_lines[i])
            else:
                dx, dy = b.x - cx, b.y - cy
                d = math.hypot(dx, dy) or 1.0
                for k, i in enumerate(idx):
                    _loop(c, b, dx / d, dy / d, 50 + k * (LINE * len(rel_lines[i]) + 60), rel_lines[i])
            continue
        m = len(idx)
        for k, i in enumerate(idx):
            r = g.relationships[i]
            step = LINE * max(len(rel_lines[j]) for j in idx) + 20
            bend = (k - (m - 1) / 2) * step * 2
            a_, b_ = boxes[r.source], boxes[r.target]
            if a_.x > b_.x or (a_.x == b_.x and a_.y > b_.y):  # bends measured on one orientation per pair
                bend = -bend
            _edge(c, a_, b_, bend, rel_lines[i])
    edges, c.parts = c.parts, []
    for b in boxes.values():
        _draw_box(c, b)
    nodes = c.parts
    legend = ("boxes: node labels (pills: property nodes) · arrows: relationship types · "
              "← the table (and rule) that feeds each · made by kbgraph model --format svg")
    m0 = 20
    x0, y0 = c.x0 - m0, c.y0 - m0 - 26
    w, h = max(c.x1 - c.x0, text_width(legend, 11)) + 2 * m0, c.y1 - c.y0 + 2 * m0 + 26 + 22
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.1f} {y0:.1f} {w:.1f} {h:.1f}" '
        f'width="{w:.0f}" height="{h:.0f}">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#fafafa"/>',
        f'<text x="{x0 + m0:.1f}" y="{y0 + 22:.1f}" class="title">{escape(title)}</text>',
    ]
    foot = [f'<text x="{x0 + m0:.1f}" y="{y0 + h - 10:.1f}" class="small">{escape(legend)}</text>', "</svg>"]
    return "\n".join([*head, *edges, *nodes, *foot]) + "\n"


def r_label(g: GraphModel, i: int) -> str:
    return g.relationships[i].source
