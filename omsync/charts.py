"""Small, dependency-free SVG charts for the scorecard: step lines over the day, a histogram, paired bars."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 640, 240, 44
COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e"]


def _frame(title: str, body: list[str], x_label: str, y_max: float, legend: list[tuple[str, str]]) -> str:
    ticks = [y_max * i / 4 for i in range(5)]
    grid = [f'<line x1="{PAD}" x2="{WIDTH - 10}" y1="{_y(t, y_max):.1f}" y2="{_y(t, y_max):.1f}" stroke="#eee"/>'
            f'<text x="{PAD - 4}" y="{_y(t, y_max) + 4:.1f}" font-size="10" text-anchor="end">{t:,.0f}</text>' for t in ticks]
    keys = [f'<rect x="{PAD + 10 + i * 150}" y="24" width="10" height="10" fill="{c}"/>'
            f'<text x="{PAD + 24 + i * 150}" y="33" font-size="11">{escape(name)}</text>' for i, (name, c) in enumerate(legend)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
            f'<text x="{PAD}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>{"".join(grid)}{"".join(keys)}{"".join(body)}'
            f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" font-size="11" text-anchor="middle">{escape(x_label)}</text></svg>')


def _y(value: float, y_max: float) -> float:
    return HEIGHT - PAD - (value / y_max if y_max else 0) * (HEIGHT - PAD - 44)


def _x(value: float, x_max: float) -> float:
    return PAD + (value / x_max if x_max else 0) * (WIDTH - PAD - 10)


def step_lines(title: str, series: dict[str, list[tuple[float, float]]], x_label: str = "simulated minutes") -> str:
    """Each series a step line of (x, y) points."""
    points = [p for s in series.values() for p in s]
    x_max = max((x for x, _ in points), default=1) or 1
    y_max = max((y for _, y in points), default=1) or 1
    body = []
    for (name, s), colour in zip(series.items(), COLOURS):
        path = [f"M{_x(s[0][0], x_max):.1f},{_y(max(s[0][1], 0), y_max):.1f}"] if s else []
        path += [f"H{_x(x, x_max):.1f} V{_y(max(y, 0), y_max):.1f}" for x, y in s[1:]]
        body.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    return _frame(title, body, x_label, y_max, [(n, c) for n, c in zip(series, COLOURS)])


def histogram(title: str, values: list[float], bins: int = 24, x_label: str = "minutes") -> str:
    """How many values fall in each of `bins` equal ranges."""
    top = max(values, default=1) or 1
    counts = [0] * bins
    for v in values:
        counts[min(int(v / top * bins), bins - 1)] += 1
    y_max = max(counts) or 1
    width = (WIDTH - PAD - 10) / bins
    body = [f'<rect x="{PAD + i * width:.1f}" y="{_y(c, y_max):.1f}" width="{width - 1:.1f}" height="{HEIGHT - PAD - _y(c, y_max):.1f}" fill="{COLOURS[1]}"/>'
            for i, c in enumerate(counts)]
    body.append(f'<text x="{WIDTH - 10}" y="{HEIGHT - PAD + 14}" font-size="10" text-anchor="end">{top:,.0f}</text>'
                f'<text x="{PAD}" y="{HEIGHT - PAD + 14}" font-size="10">0</text>')
    return _frame(title, body, x_label, y_max, [("orders", COLOURS[1])])


def paired_bars(title: str, rows: list[tuple[str, float, float]], names: tuple[str, str]) -> str:
    """Two bars per label (e.g. expected and paid per settlement)."""
    y_max = max((max(a, b) for _, a, b in rows), default=1) or 1
    group = (WIDTH - PAD - 10) / max(len(rows), 1)
    body = []
    for i, (label, a, b) in enumerate(rows):
        for j, (value, colour) in enumerate(((a, COLOURS[1]), (b, COLOURS[2]))):
            x = PAD + i * group + 6 + j * (group - 12) / 2
            body.append(f'<rect x="{x:.1f}" y="{_y(value, y_max):.1f}" width="{(group - 12) / 2 - 2:.1f}" '
                        f'height="{HEIGHT - PAD - _y(value, y_max):.1f}" fill="{colour}"/>')
        body.append(f'<text x="{PAD + (i + 0.5) * group:.1f}" y="{HEIGHT - PAD + 14}" font-size="10" text-anchor="middle">{escape(label)}</text>')
    return _frame(title, body, "settlement", y_max, [(names[0], COLOURS[1]), (names[1], COLOURS[2])])
