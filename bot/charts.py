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
from typing import Any, Mapping

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")  # before anything else of matplotlib's: no display, ever

from aiogram.utils.i18n import gettext as _  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

from bot.i18n import format_number  # noqa: E402
from bot.labels import country_label  # noqa: E402

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


def _fewer_label(n: int, locale: str) -> str:
    return _("fewer than {n}").format(n=format_number(n, locale))


def _margin_note(table: Mapping[str, Any], locale: str) -> str:
    return _("Noisy counts (differential privacy): the bars show ± {m}, the 95 % margin.").format(
        m=format_number(table.get("margin95", 0), locale))


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


def _shown(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in table.get("entries", []) if e.get("members") is not None]


def countries_chart(countries: Mapping[str, Any], locale: str) -> bytes:
    """Members by country of residence: horizontal bars with their 95 % margins."""
    entries = _shown(countries)[:TOP]
    if not entries:
        return no_data_chart(_("Members by country"))
    with matplotlib.rc_context(FONT):
        figure = _figure(9, 2.0 + 0.42 * len(entries))
        axes = figure.add_subplot()
        entries = entries[::-1]
        names = [country_label(e["country"], locale) for e in entries]
        values = [e["members"] for e in entries]
        margins = [e["margin95"] for e in entries]
        bars = axes.barh(names, values, xerr=margins, color=COLOUR, ecolor="#555555", capsize=3)
        for bar, entry in zip(bars, entries):
            text = "{n} ± {m}".format(n=format_number(entry["members"], locale), m=format_number(entry["margin95"], locale))
            axes.annotate(text, (bar.get_width() + entry["margin95"], bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                          textcoords="offset points", va="center", fontsize=9)
        axes.set_title(_("Members by country"))
        axes.set_xlabel(_("Members") + " — " + _("Not listed: fewer than {n} each.").format(
            n=format_number(countries.get("fewer_than", 0), locale)))
        axes.set_xlim(left=0)
        axes.margins(x=0.3)
        axes.spines[["top", "right"]].set_visible(False)
        figure.text(0.01, 0.005, _margin_note(countries, locale), fontsize=8, color="#666666")
        return _png(figure)


def registrations_chart(months: Mapping[str, Any], locale: str) -> bytes:
    """Registrations per month with their 95 % margins; months under the threshold hatched."""
    cells = list(months.get("entries", []))[-24:]
    if not _shown(months):
        return no_data_chart(_("Registrations per month"))
    with matplotlib.rc_context(FONT):
        figure = _figure(9, 4.8)
        axes = figure.add_subplot()
        labels = [e["month"] for e in cells]
        shown = [e["members"] or 0 for e in cells]
        errors = [e["margin95"] if e["members"] is not None else 0 for e in cells]
        axes.bar(labels, shown, yerr=errors, color=COLOUR, ecolor="#555555", capsize=2, label=_("Members"))
        few = [e["fewer_than"] if e["members"] is None else 0 for e in cells]
        if any(few):
            axes.bar(labels, few, color="none", edgecolor=HIDDEN_COLOUR, hatch="//",
                     label=_fewer_label(max(few), locale))
        axes.legend(loc="upper left", frameon=False)
        axes.set_title(_("Registrations per month"))
        axes.set_ylabel(_("Members"))
        axes.set_ylim(bottom=0)
        axes.tick_params(axis="x", labelrotation=60, labelsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        figure.text(0.01, 0.005, _margin_note(months, locale), fontsize=8, color="#666666")
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


def _bins(low: int, top: int) -> list[int]:
    """Lower edges of the colour classes, starting at the listing threshold."""
    edges = [low]
    for nice in (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000):
        if nice > edges[-1] and nice <= top and len(edges) < len(SHADES):
            edges.append(nice)
    return edges


def world_map(countries: Mapping[str, Any], locale: str) -> bytes:
    """A choropleth of members by country of residence (noisy counts, margin in the legend)."""
    shapes = world_shapes()
    entries = {e["country"]: e for e in _shown(countries)}
    if not entries:
        return no_data_chart(_("Where our members live"))
    threshold = int(countries.get("fewer_than", 1))
    top = max(e["members"] for e in entries.values())
    edges = _bins(threshold, top)
    with matplotlib.rc_context(FONT):
        figure = _figure(11, 6)
        axes = figure.add_subplot()
        colours = []
        for code in shapes:
            entry = entries.get(code)
            if entry is None:
                colours.append(EMPTY_COLOUR)
            else:
                colours.append(SHADES[max(i for i, edge in enumerate(edges) if entry["members"] >= edge)])
        # One collection, not a patch per country: the axes then take the map's extent from all
        # outlines at once instead of walking every Bézier segment of every country (seconds).
        axes.add_collection(PathCollection(list(shapes.values()), facecolors=colours, edgecolors="white", linewidths=0.3))
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
        handles.append(Patch(facecolor=EMPTY_COLOUR, label=_fewer_label(threshold, locale)))
        axes.legend(handles=handles, loc="lower left", frameon=False, title=_("Members"))
        leaders = ["{name}: {n} ± {m}".format(name=country_label(e["country"], locale), n=format_number(e["members"], locale),
                                             m=format_number(e["margin95"], locale))
                   for e in list(entries.values())[:5]]
        axes.set_title(_("Where our members live"))
        figure.text(0.99, 0.02, "\n".join(leaders), ha="right", va="bottom", fontsize=9)
        figure.text(0.01, 0.005, _margin_note(countries, locale), fontsize=8, color="#666666")
        return _png(figure)
