"""`python -m bench.flamegraph STACKS.txt OUT.svg`: a small flame graph from collapsed stacks.

py-spy writes collapsed stacks with `-f raw` (one `frame;frame;... count` line per stack). Its
own SVG keeps every frame and weighs hundreds of kilobytes; this one drops frames narrower than
`--min-percent` of the samples, so a profile kept in docs/profiles stays a few dozen kilobytes.
Hover a frame for its name and share.
"""

from __future__ import annotations

import argparse
import html
import zlib
from pathlib import Path

ROW = 16
WIDTH = 1200.0


def _tree(lines: list[str]) -> dict:
    root: dict = {"n": 0, "kids": {}}
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        root["n"] += int(count)
        node = root
        for frame in stack.split(";"):
            name = frame.split(" (", 1)[0] or "?"
            where = frame.rsplit("/", 1)[-1].rstrip(")") if " (" in frame else ""
            label = f"{name} ({where.split(':')[0]})" if where else name
            node = node["kids"].setdefault(label, {"n": 0, "kids": {}})
            node["n"] += int(count)
    return root


def render(lines: list[str], title: str, min_percent: float = 0.5) -> str:
    """The SVG text: one row per stack depth, widths proportional to samples."""
    root = _tree(lines)
    total = root["n"] or 1
    rects: list[str] = []
    depth_max = 0

    def walk(node: dict, x: float, depth: int) -> None:
        nonlocal depth_max
        for label, kid in sorted(node["kids"].items()):
            width = kid["n"] / total * WIDTH
            if kid["n"] / total * 100 >= min_percent:
                depth_max = max(depth_max, depth)
                share = kid["n"] / total * 100
                text = html.escape(label)
                hue = 20 + zlib.crc32(label.encode()) % 40
                visible = text[: int(width / 7)] if width > 28 else ""
                rects.append(
                    f'<g><title>{text}: {share:.1f}%</title><rect x="{x:.1f}" y="{{y{depth}}}" width="{width:.1f}" '
                    f'height="{ROW - 1}" fill="hsl({hue},90%,60%)"/><text x="{x + 3:.1f}" y="{{t{depth}}}">'
                    f"{visible}</text></g>"
                )
                walk(kid, x, depth + 1)
            x += width

    walk(root, 0.0, 0)
    height = (depth_max + 3) * ROW
    body = "\n".join(rects)
    for depth in range(depth_max + 1):  # the root at the bottom, as flame graphs are drawn
        y = height - (depth + 2) * ROW
        body = body.replace(f"{{y{depth}}}", str(y)).replace(f"{{t{depth}}}", str(y + ROW - 4))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH:.0f}" height="{height}" font-family="monospace" '
        f'font-size="11"><text x="4" y="12">{html.escape(title)} ({total} samples)</text>\n{body}\n</svg>\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flamegraph")
    parser.add_argument("stacks", type=Path, help="collapsed stacks (py-spy record -f raw)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--title", default="")
    parser.add_argument("--min-percent", type=float, default=0.5, help="drop frames narrower than this")
    args = parser.parse_args()
    lines = args.stacks.read_text().splitlines()
    args.out.write_text(render(lines, args.title or args.stacks.stem, args.min_percent))


if __name__ == "__main__":
    main()
