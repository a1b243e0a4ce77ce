"""The demo: a first minute with the page without the 3.5 GB model download. `altclip-demo`
(`ui.demo.cli`) draws a small library of coloured shapes (`scenes`, the toy world of
tests/toyworld.py), indexes it with the tiny model trained on that world (`toy-model/`, 0.9 MB,
shipped with the package) and opens the page on it, which says it is a demo (`is_demo`).

The toy model knows shapes, colours, counts, sizes, sides and backgrounds, in Chinese and
English, and nothing else: it shows what the page does, not how well AltCLIP finds photos."""

from __future__ import annotations

from pathlib import Path

MODEL = Path(__file__).with_name("toy-model")


def is_demo(model: str) -> bool:
    """Whether a library's model (`Status.model`, as the library records it) is the demo's."""
    try:
        return Path(model).resolve() == MODEL.resolve()
    except (OSError, ValueError):  # a hub name, or a path this system cannot resolve
        return False
