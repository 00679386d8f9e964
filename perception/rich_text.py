"""Markdown written by people, turned into HTML that is safe to show to everyone else."""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt

# What a suggestion needs: paragraphs, emphasis, lists, quotes, code and links. No images (they
# would load from anywhere), no raw HTML, no headings that would compete with the page's own.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {"p", "br", "em", "strong", "ul", "ol", "li", "blockquote", "code", "pre", "a", "hr"}
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}}
ALLOWED_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})


@cache
def _parser() -> MarkdownIt:
    # CommonMark without raw HTML: markup typed as HTML shows as text; nh3 is the second wall.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")


def render_markdown(text: str) -> str:
    """Sanitised HTML for ``text``: whatever Markdown or HTML it holds, no script survives."""
    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
