"""The atlas as pictures: PNG charts drawn headless (matplotlib's Agg canvas, no pyplot state).

Labels come in the current gettext locale; DejaVu Sans (bundled with matplotlib) has the
Cyrillic and Turkic Latin letters we need. The world map is drawn from the country shapes that
the ``pygal_maps_world`` package ships as ``worldmap.svg`` (read as a data file: the package
itself is never imported), so nothing is fetched at run time.
"""

from __future__ import annotations

import importlib.util
import io
import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")  # before anything else of matplotlib's: no display, ever

from aiogram.utils.i18n import gettext as _  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import PathPatch, Patch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

from bot.i18n import format_number  # noqa: E402
from bot.labels import country_label  # noqa: E402
from bot.services.atlas import Table  # noqa: E402

FONT = {"font.family": "DejaVu Sans", "font.size": 10, "axes.titlesize": 13}
COLOUR = "#2a6f97"
HIDDEN_COLOUR = "#b8c4cc"
EMPTY_COLOUR = "#e9ecef"
SHADES = ("#cfe3f0", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
TOP = 15


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure


def _hidden_label(cell_small: bool, min_cell: int, locale: str) -> str:
    if cell_small:
        return _("fewer than {n}").format(n=format_number(min_cell, locale))
    return _("hidden")


def no_data_chart(title: str | None = None) -> bytes:
    """A friendly picture for an atlas with nothing in it yet."""
    with matplotlib.rc_context(FONT):
        figure = _figure(8, 4.5)
        axes = figure.add_subplot()
        axes.set_axis_off()
        axes.add_patch(matplotlib.patches.Circle((0.5, 0.64), 0.09, transform=axes.transAxes, facecolor=EMPTY_COLOUR,
                                                 edgecolor=HIDDEN_COLOUR, linewidth=2))
        axes.text(0.5, 0.35, _("No data yet"), ha="center", va="center", fontsize=20, color="#333333")
        axes.text(0.5, 0.22, _("The atlas fills in as members register."), ha="center", va="center", color="#666666")
        if title:
            figure.suptitle(title)
        return _png(figure)


def countries_chart(countries: Table, locale: str, min_cell: int) -> bytes:
    """Members by country of residence: horizontal bars, names in the viewer's language."""
    if not countries:
        return no_data_chart(_("Members by country"))
    cells = list(countries.cells)[:TOP]
    with matplotlib.rc_context(FONT):
        figure = _figure(9, 1.6 + 0.42 * len(cells))
        axes = figure.add_subplot()
        names = [country_label(cell.key, locale) for cell in cells][::-1]
        cells = cells[::-1]
        values = [cell.count if cell.count is not None else min_cell for cell in cells]
        bars = axes.barh(names, values, color=[COLOUR if c.count is not None else HIDDEN_COLOUR for c in cells])
        for bar, cell in zip(bars, cells):
            if cell.count is None:
                bar.set_hatch("//")
                text = _hidden_label(cell.small, min_cell, locale)
            else:
                text = format_number(cell.count, locale)
            axes.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                          textcoords="offset points", va="center", fontsize=9)
        axes.set_title(_("Members by country"))
        axes.set_xlabel(_("Members"))
        axes.margins(x=0.25)
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


def registrations_chart(months: Table, locale: str, min_cell: int) -> bytes:
    """Registrations per month; hidden months drawn hatched up to the threshold."""
    if not months:
        return no_data_chart(_("Registrations per month"))
    cells = list(months.cells)[-24:]
    with matplotlib.rc_context(FONT):
        figure = _figure(9, 4.5)
        axes = figure.add_subplot()
        labels = [cell.key for cell in cells]
        shown = [cell.count or 0 for cell in cells]
        axes.bar(labels, shown, color=COLOUR, label=_("Members"))
        hidden = [min_cell if cell.count is None else 0 for cell in cells]
        if any(hidden):
            axes.bar(labels, hidden, color="none", edgecolor=HIDDEN_COLOUR, hatch="//",
                     label=_("hidden (fewer than {n}, or protecting one)").format(n=format_number(min_cell, locale)))
            axes.legend(loc="upper left", frameon=False)
        axes.set_title(_("Registrations per month"))
        axes.set_ylabel(_("Members"))
        axes.tick_params(axis="x", labelrotation=60, labelsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


# --- the world map -----------------------------------------------------------------------

def _map_file() -> Path | None:
    spec = importlib.util.find_spec("pygal_maps_world")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "worldmap.svg"
    return path if path.exists() else None


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"[MmLlHhVvCcZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1, 0, 0, 1, 0, 0)


def _compose(outer: Matrix, inner: Matrix) -> Matrix:
    a, b, c, d, e, f = outer
    a2, b2, c2, d2, e2, f2 = inner
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2, a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def _transform(text: str | None) -> Matrix:
    if not text:
        return IDENTITY
    values = [float(v) for v in _NUMBER.findall(text)]
    if text.strip().startswith("matrix") and len(values) == 6:
        return tuple(values)  # type: ignore[return-value]
    if text.strip().startswith("translate"):
        return (1, 0, 0, 1, values[0], values[1] if len(values) > 1 else 0.0)
    return IDENTITY


def _parse_path(d: str, matrix: Matrix) -> tuple[list[tuple[float, float]], list[int]]:
    """SVG path data (the commands the map uses: M L H V C Z, absolute or relative) as vertices and codes."""
    tokens = _TOKEN.findall(d)
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    x = y = start_x = start_y = 0.0
    command = ""
    i = 0

    def number() -> float:
        nonlocal i
        value = float(tokens[i])
        i += 1
        return value

    while i < len(tokens):
        if tokens[i].isalpha():
            command = tokens[i]
            i += 1
            if command in "Zz":
                if vertices:
                    vertices.append((start_x, start_y))
                    codes.append(MplPath.CLOSEPOLY)
                x, y = start_x, start_y
                continue
        relative = command.islower()
        kind = command.upper()
        if kind == "M":
            nx, ny = number(), number()
            x, y = (x + nx, y + ny) if relative else (nx, ny)
            start_x, start_y = x, y
            vertices.append((x, y))
            codes.append(MplPath.MOVETO)
            command = "l" if relative else "L"  # further pairs are line-tos
        elif kind == "L":
            nx, ny = number(), number()
            x, y = (x + nx, y + ny) if relative else (nx, ny)
            vertices.append((x, y))
            codes.append(MplPath.LINETO)
        elif kind == "H":
            nx = number()
            x = x + nx if relative else nx
            vertices.append((x, y))
            codes.append(MplPath.LINETO)
        elif kind == "V":
            ny = number()
            y = y + ny if relative else ny
            vertices.append((x, y))
            codes.append(MplPath.LINETO)
        elif kind == "C":
            points = [(number(), number()) for _ in range(3)]
            if relative:
                points = [(x + px, y + py) for px, py in points]
            vertices.extend(points)
            codes.extend([MplPath.CURVE4] * 3)
            x, y = points[-1]
        else:  # a command the map does not use: stop rather than draw nonsense
            break
    a, b, c, dd, e, f = matrix
    return [(a * px + c * py + e, b * px + dd * py + f) for px, py in vertices], codes


@lru_cache(maxsize=1)
def world_shapes() -> dict[str, MplPath]:
    """Country outlines keyed by ISO alpha-2 (upper case), in the map's own coordinates."""
    path = _map_file()
    if path is None:
        return {}
    svg = "{http://www.w3.org/2000/svg}"
    shapes: dict[str, tuple[list[tuple[float, float]], list[int]]] = {}

    def walk(element: ET.Element, matrix: Matrix, country: str | None) -> None:
        matrix = _compose(matrix, _transform(element.get("transform")))
        classes = (element.get("class") or "").split()
        if element.tag == f"{svg}g" and "country" in classes and classes[0] != "country":
            country = classes[0].upper()
        if element.tag == f"{svg}path" and country and element.get("d"):
            vertices, codes = _parse_path(element.get("d", ""), matrix)
            if vertices:
                into = shapes.setdefault(country, ([], []))
                into[0].extend(vertices)
                into[1].extend(codes)
        for child in element:
            walk(child, matrix, country)

    walk(ET.parse(path).getroot(), IDENTITY, None)
    return {code: MplPath(vertices, codes) for code, (vertices, codes) in shapes.items() if code != "AQ"}


def _bins(min_cell: int, top: int) -> list[int]:
    """Lower edges of the colour classes, starting at the threshold."""
    edges = [min_cell]
    for nice in (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000):
        if nice > edges[-1] and nice <= top and len(edges) < len(SHADES):
            edges.append(nice)
    return edges


def world_map(countries: Table, locale: str, min_cell: int) -> bytes:
    """A choropleth of members by country of residence."""
    shapes = world_shapes()
    if not countries:
        return no_data_chart(_("Where our members live"))
    top = max((cell.count for cell in countries.cells if cell.count is not None), default=min_cell)
    edges = _bins(min_cell, top)
    with matplotlib.rc_context(FONT):
        figure = _figure(11, 6)
        axes = figure.add_subplot()
        for code, shape in shapes.items():
            cell = countries.get(code)
            if cell is None:
                colour = EMPTY_COLOUR
            elif cell.count is None:
                colour = HIDDEN_COLOUR
            else:
                colour = SHADES[max(i for i, edge in enumerate(edges) if cell.count >= edge)]
            axes.add_patch(PathPatch(shape, facecolor=colour, edgecolor="white", linewidth=0.3))
        if shapes:
            axes.autoscale_view()
            axes.set_ylim(axes.get_ylim()[::-1])  # SVG y grows downwards
        axes.set_aspect("equal")
        axes.set_axis_off()
        handles = []
        for i, edge in enumerate(edges):
            upper = edges[i + 1] - 1 if i + 1 < len(edges) else None
            label = (f"{format_number(edge, locale)}–{format_number(upper, locale)}" if upper is not None
                     else f"{format_number(edge, locale)}+")
            handles.append(Patch(facecolor=SHADES[i], label=label))
        handles.append(Patch(facecolor=HIDDEN_COLOUR, label=_("hidden (fewer than {n}, or protecting one)").format(
            n=format_number(min_cell, locale))))
        axes.legend(handles=handles, loc="lower left", frameon=False, title=_("Members"))
        leaders = [f"{country_label(c.key, locale)}: {format_number(c.count, locale)}"
                   for c in countries.cells[:5] if c.count is not None]
        axes.set_title(_("Where our members live"))
        if leaders:
            figure.text(0.99, 0.02, "\n".join(leaders), ha="right", va="bottom", fontsize=9)
        return _png(figure)
