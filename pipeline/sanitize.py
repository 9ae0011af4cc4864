"""The one allow-list every HTML the pipeline produces goes through, and its Markdown's raw HTML.

Segment `html` comes from documents (an HTML input's own tags, a Markdown input's raw HTML), so a
client that shows it must not run what a hostile document put there. `segment_processing` passes
every segment through `sanitize_html` and `sanitize_markdown` as it finishes it, whatever parser
made it, so no producer can forget.
"""
from __future__ import annotations

import html as html_entities
import re
from functools import lru_cache

import nh3

ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS | {"tfoot"})
ALLOWED_ATTRIBUTES = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "th": nh3.ALLOWED_ATTRIBUTES["th"] | {"style"},  # Markdown tables align cells by style
    "td": nh3.ALLOWED_ATTRIBUTES["td"] | {"style"},
    "code": {"class"},  # a fence's language, class="language-python"
}
STYLE_PROPERTIES = frozenset({"text-align"})
# No javascript:, vbscript: or data: (the pipeline itself emits no data: URL in its HTML: a
# Picture's <img> has no src). Relative URLs pass.
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "ftp", "ftps"})
# Tags dropped with everything inside them (others not allowed are dropped, their text kept).
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "noscript", "template", "noembed", "noframes",
    "xmp", "svg", "math", "select", "textarea", "title",
})


def sanitize_html(markup: str) -> str:
    """The markup with only allowed tags, attributes, styles and URL schemes (nh3, html5ever)."""
    if not markup:
        return markup
    cleaned = html_cleaner().clean(markup)
    # html5ever puts the <tbody> every browser would imply; leave the markup as it came.
    if "<tbody" not in markup.lower():
        cleaned = cleaned.replace("<tbody>", "").replace("</tbody>", "")
    return cleaned


@lru_cache(maxsize=1)
def html_cleaner() -> nh3.Cleaner:
    """The allow-list, built once: building it costs more than cleaning a segment."""
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(STYLE_PROPERTIES),
        link_rel=None,
    )


# Markdown

CODE = re.compile(r"(?ms)^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[`~]*[ \t]*$|\Z)|(`+)(?!`).+?(?<!`)\2(?!`)")
RAW_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->|<[?!][^<>]*>", re.S)
OPENING_TAG_NAME = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)")
CLOSING_TAG_NAME = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)")
# Where Markdown takes a URL: an inline link or image `](url`, a reference definition `]: url`,
# an autolink `<scheme:...>`.
# Browsers drop tabs and line breaks from URLs, so a destination runs on through them.
DESTINATION = re.compile(r"(\]\(\s*<?|^[ \t>]*\[[^\]\n]*\]:[ \t]*<?|<)((?:[^\s<>()]|[\t\r])*)", re.M)
UNSAFE_SCHEME = re.compile(r"(?:javascript|vbscript|data|file):")
INVISIBLE = re.compile(r"[\x00-\x20\x7f\\]+")


def sanitize_markdown(markdown: str) -> str:
    """Markdown whose raw HTML passed the HTML allow-list and whose link and image URLs are not
    javascript:, vbscript:, data: or file:; code spans and fenced blocks are left as they are
    (a renderer shows them as text)."""
    if not markdown or not ("<" in markdown or ":" in markdown):
        return markdown
    pieces = []
    position = 0
    for code in CODE.finditer(markdown):
        pieces.append(sanitize_markdown_prose(markdown[position:code.start()]))
        pieces.append(code.group(0))
        position = code.end()
    pieces.append(sanitize_markdown_prose(markdown[position:]))
    return "".join(pieces)


def sanitize_markdown_prose(prose: str) -> str:
    """Markdown outside code: unsafe URLs become `#`, raw tags are cleaned one by one."""
    prose = DESTINATION.sub(safe_destination, prose)
    return RAW_TAG.sub(lambda match: sanitize_tag(match.group(0)), prose) if "<" in prose else prose


def safe_destination(match: re.Match) -> str:
    """A link destination kept, or `#` when it would run or embed something."""
    if is_unsafe_url(match.group(2)):
        return match.group(1) + "#"
    return match.group(0)


def is_unsafe_url(url: str) -> bool:
    """Whether a URL, its entities decoded and blanks, controls and escapes taken out, has an
    unsafe scheme."""
    if ":" not in url and "&" not in url:
        return False
    return bool(UNSAFE_SCHEME.match(INVISIBLE.sub("", html_entities.unescape(url)).lower()))


def sanitize_tag(tag: str) -> str:
    """One raw tag of Markdown through the allow-list: kept cleaned, or dropped."""
    if tag.startswith("</"):
        name = CLOSING_TAG_NAME.match(tag)
        return tag if name and name.group(1).lower() in ALLOWED_TAGS else ""
    name = OPENING_TAG_NAME.match(tag)
    if name is None or name.group(1).lower() not in ALLOWED_TAGS:
        return ""  # comments, declarations, and tags not allowed
    cleaned = sanitize_html(tag)
    # nh3 closes what it opens: keep the opening tag alone.
    closing = cleaned.find("</")
    return cleaned if closing < 0 else cleaned[:closing]
