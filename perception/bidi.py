"""Direction isolates for what people write: names, titles, verbatims, ideas, stories.

A right-to-left override left open (U+202E) or a name in Arabic or Hebrew script takes the
neutral characters next to it into its own direction, and so reorders the sentence around it.
Put in an isolate, it keeps its own direction and leaves the rest of the line alone: in HTML a
``<bdi>`` (pages, HTML emails, the board pack), in plain text U+2068 FIRST STRONG ISOLATE ...
U+2069 POP DIRECTIONAL ISOLATE (text emails, subjects, page titles). An element that holds
nothing but such text takes ``dir="auto"`` in the templates instead.
"""

from __future__ import annotations

from markupsafe import Markup

__all__ = ["FIRST_STRONG_ISOLATE", "POP_DIRECTIONAL_ISOLATE", "isolate", "isolate_text"]

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"


def isolate(text: object) -> Markup:
    """What someone wrote, escaped and in a ``<bdi>``: its own direction (an Arabic or Hebrew name, an
    override left open) cannot reorder the page's text around it. Nothing for no text."""
    if text is None or text == "":
        return Markup("")
    return Markup("<bdi>{}</bdi>").format(text)


def isolate_text(text: object) -> str:
    """The plain-text form of ``isolate``, for text emails, subjects and page titles: the text between
    U+2068 FIRST STRONG ISOLATE and U+2069 POP DIRECTIONAL ISOLATE. Nothing for no text."""
    if text is None or text == "":
        return ""
    return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"
