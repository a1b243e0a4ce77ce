"""The page's CSS (no script): square tiles whose whole photo is the button that opens it, one
line of caption, a viewer that fits the screen without enlarging a small photo, chips; and
Streamlit's own words in the page's language.

Streamlit writes a few words of its own, in English only: the uploader's button and its line of
size and types ("200MB per file • AVIF, BMP…", which `search_box` writes in the page's words),
the "Stop" beside its running icon, the "Press Enter to apply" under a text box, and the ⋮ menu
(theme, print, record screen). Each is drawn by CSS in the page's language (`instead`, from the
strings files), or hidden where there is nothing to say instead: the menu (the theme then
follows the system's). What a Streamlit upgrade renames falls back to Streamlit's English.
"""

from __future__ import annotations

from ui.i18n import Strings

LAYOUT = """
.st-key-grid [class*="st-key-tile-"] { position: relative; gap: 0.15rem; }
.st-key-grid [data-testid="stImage"] img, .st-key-grid [class*="st-key-blank-"] {
  aspect-ratio: 1 / 1; width: 100%; object-fit: cover; border-radius: 6px;
}
.st-key-grid [class*="st-key-blank-"] { background: rgba(128, 128, 128, 0.2); }
.st-key-grid [data-testid="stText"], .st-key-grid [data-testid="stText"] span {
  display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  font-size: 0.8rem;
}
.st-key-grid [data-testid="stElementToolbar"] { display: none; }
.st-key-grid [data-testid="stElementContainer"]:has(.stButton) {
  position: absolute; inset: 0; z-index: 1;
}
.st-key-grid .stButton, .st-key-grid .stButton button {
  width: 100%; height: 100%; opacity: 0; cursor: zoom-in;
}
[data-testid="stDialog"] [data-testid="stImage"] img {
  max-height: 78vh; max-width: 100%; width: auto; object-fit: contain;
}
[class*="st-key-chip-"] {
  border: 1px solid rgba(128, 128, 128, 0.4); border-radius: 1rem; padding: 0 0.2rem 0 0.7rem;
  align-items: center;
}
[class*="st-key-chip-"] button { border: none; background: none; padding: 0 0.4rem; }
.st-key-close-viewer { display: none; }
"""

# Streamlit's words: (where Streamlit writes one, where the page's goes, its strings key[, size]).
UPLOAD = '[data-testid="stFileUploaderDropzone"] button'
STOP = '[data-testid="stStatusWidget"]:has([data-testid="stStatusWidgetRunningIcon"]) button'
PRESS_ENTER = '[data-testid="InputInstructions"]'
UPLOAD_LIMITS = '[data-testid="stFileUploaderDropzoneInstructions"] span'
WORDS = [
    (f"{UPLOAD} [data-testid='stMarkdownContainer']", f"{UPLOAD} > div > span", "upload_button"),
    (STOP, STOP, "stop"),
    (PRESS_ENTER, PRESS_ENTER, "press_enter", "0.75rem"),
]
HIDDEN = ['[data-testid="stMainMenu"]']


def style(tr: Strings) -> str:
    """The page's CSS, with Streamlit's words in `tr`'s language."""
    rules = [LAYOUT.strip(), f"{', '.join(HIDDEN)} {{ display: none; }}"]
    rules += [instead(streamlits, ours, tr(key), *size) for streamlits, ours, key, *size in WORDS]
    return "<style>\n" + "\n".join(rules) + "\n</style>"


def instead(streamlits: str, ours: str, word: str, size: str = "0.875rem") -> str:
    """CSS that shows `word` (at `size`) where Streamlit's own is (`streamlits`, a selector):
    after the element `ours`; where the two are one element, Streamlit's shrunk to nothing."""
    # Hidden from sight, the page's text and screen readers alike; the word drawn after it.
    hide = "font-size: 0; visibility: hidden" if streamlits == ours else "display: none"
    shown = f"content: {css_string(word)}; font-size: {size}; visibility: visible;"
    return f"{streamlits} {{ {hide}; }}\n{ours}::after {{ {shown} }}"


def css_string(text: str) -> str:
    """`text` as a quoted CSS string: letters as they are, anything else as a hex escape, so no
    quote, backslash or `</style>` can end it."""
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in text) + '"'
