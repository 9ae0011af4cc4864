"""Every HTML the service produces is sanitised: hostile HTML and Markdown inputs, through the API."""
from __future__ import annotations

import re
import threading

import pytest
from helpers import create

from pipeline.sanitize import is_unsafe_url, sanitize_html, sanitize_markdown
from worker.loop import Worker

HOSTILE_HTML = """<!DOCTYPE html><html><head><script>alert('head')</script><style>p{}</style></head><body>
<h1 onclick="alert(1)">Report</h1>
<p>Look <img src=x onerror=alert(1)> here <a href="javascript:alert(1)">click</a>.</p>
<p><a href="JaVaScRiPt:alert(2)">upper</a> <a href="&#106;avascript:alert(3)">entity</a>
<a href="java&#x09;script:alert(4)">tab</a> <a href=" javascript:alert(5)">space</a>
<a href="vbscript:msgbox(1)">vb</a> <a href="data:text/html,<script>alert(6)</script>">data</a></p>
<p>An <svg onload=alert(7)><circle r=1 /></svg> svg and <iframe src="https://evil.example/"></iframe> frame
<object data="x.swf"></object><embed src="x.swf"> <form action="/steal"><input name=q><button>go</button></form></p>
<p><math><mtext><script>alert(8)</script></mtext></math> <img src="data:image/svg+xml,<svg onload=alert(9)>"></p>
<div onmouseover="alert(10)">hover <b style="background:url(javascript:alert(11))">bold</b></div>
<p>Benign: <a href="https://example.com/page?a=1&amp;b=2">a link</a>, <em>emphasis</em>.</p>
<table><tr><th>Fruit</th><th>Count</th></tr><tr><td onclick="x()">apple</td><td>3</td></tr></table>
<ul><li>first <a href="mailto:a@example.com">mail</a></li><li>second</li></ul>
</body></html>
"""

HOSTILE_MARKDOWN = """# Notes

Raw <img src=x onerror=alert(1)> image and <a href="javascript:alert(2)">a link</a>.

A [markdown link](javascript:alert(3)) and [upper](JaVaScRiPt:alert(4)), an
![image](data:image/svg+xml;base64,PHN2Zz4=) and <javascript:alert(5)>.

[ref]: javascript:alert(6)

<div onmouseover="alert(7)"><script>alert(8)</script>block <b>html</b></div>

<svg onload=alert(9)></svg>

Benign [link](https://example.com/a_(b)) and `<img onerror=shown_as_code>`.

- item with <span onclick="alert(10)">span</span>
- item two

| Fruit | Count |
|---|---|
| apple <img src=x onerror=alert(11)> | 3 |

```html
<script>alert('code, shown as text')</script>
```
"""

EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
UNSAFE_LINK = re.compile(r"""(?:href|src|action|data)\s*=\s*["']?\s*(?:javascript|vbscript|data):""", re.IGNORECASE)
UNSAFE_TAGS = re.compile(r"<\s*(?:script|style|iframe|object|embed|form|input|button|svg|math)\b", re.IGNORECASE)
MARKDOWN_UNSAFE_DESTINATION = re.compile(r"(?:\]\(\s*<?|\]:\s*<?|<)\s*(?:javascript|vbscript|data):", re.IGNORECASE)


@pytest.fixture
def worker(app):
    """A worker of this test's app, run by hand; its sandbox child stopped after."""
    stop = threading.Event()
    made = Worker(app, stop, name="sanitize")
    yield made
    stop.set()
    made.sandbox.close()


def run_task(client, auth, worker, document: bytes, file_name: str, **fields) -> dict:
    """Create a task, run it, and return its TaskResponse."""
    task_id = create(client, auth, document=document, file_name=file_name, **fields)["task_id"]
    assert worker.run_once()
    task = client.get(f"/task/{task_id}", headers=auth).json
    assert task["status"] == "Succeeded", task["message"]
    return task


def segments_of(task: dict) -> list[dict]:
    return [segment for chunk in task["output"]["chunks"] for segment in chunk["segments"]]


def assert_safe_html(markup: str) -> None:
    assert not EVENT_HANDLER.search(markup), markup
    assert not UNSAFE_LINK.search(markup), markup
    assert not UNSAFE_TAGS.search(markup), markup


def assert_safe_markdown(markdown: str) -> None:
    without_code = re.sub(r"(?s)```.*?```|`[^`]*`", "", markdown).replace("\t", "")
    assert not EVENT_HANDLER.search(without_code), markdown
    assert not UNSAFE_LINK.search(without_code), markdown
    assert not MARKDOWN_UNSAFE_DESTINATION.search(without_code), markdown
    assert not re.search(r"<\s*(?:script|svg|iframe)\b", without_code, re.IGNORECASE), markdown


@pytest.mark.parametrize("file_name, document", [("page.html", HOSTILE_HTML.encode()), ("notes.md", HOSTILE_MARKDOWN.encode())])
@pytest.mark.parametrize("text_format", ["Html", "Markdown"])
def test_no_segment_carries_script_through_the_api(client, auth, worker, file_name, document, text_format):
    formats = {kind: {"format": text_format} for kind in ("Text", "Title", "ListItem", "Table", "SectionHeader")}
    task = run_task(client, auth, worker, document, file_name, segment_processing=formats)
    segments = segments_of(task)
    assert segments
    for segment in segments:
        assert_safe_html(segment["html"])
        assert_safe_markdown(segment["markdown"])
        (assert_safe_html if text_format == "Html" else assert_safe_markdown)(segment["content"])
    for chunk in task["output"]["chunks"]:
        assert not EVENT_HANDLER.search(re.sub(r"(?s)```.*?```|`[^`]*`", "", chunk["embed"]))


def test_benign_html_survives(client, auth, worker):
    task = run_task(client, auth, worker, HOSTILE_HTML.encode(), "page.html", segment_processing={"Text": {"format": "Html"}})
    html = "".join(segment["html"] for segment in segments_of(task))
    assert '<a href="https://example.com/page?a=1&amp;b=2">a link</a>' in html
    assert "<em>emphasis</em>" in html
    assert "<table><tr><th>Fruit</th><th>Count</th></tr><tr><td>apple</td><td>3</td></tr></table>" in html
    assert '<ul><li>first <a href="mailto:a@example.com">mail</a></li></ul>' in html
    texts = " ".join(segment["text"] for segment in segments_of(task))
    for words in ("Look", "here", "click", "upper", "hover", "bold", "a link"):
        assert words in texts


def test_benign_markdown_survives(client, auth, worker):
    task = run_task(client, auth, worker, HOSTILE_MARKDOWN.encode(), "notes.md")
    by_type = {}
    for segment in segments_of(task):
        by_type.setdefault(segment["segment_type"], []).append(segment)
    markdown = "\n".join(segment["markdown"] for segment in segments_of(task))
    assert "[link](https://example.com/a_(b))" in markdown
    assert "`<img onerror=shown_as_code>`" in markdown  # code is shown as text, never run
    assert "<script>alert('code, shown as text')</script>" in markdown
    assert "&lt;script&gt;alert('code, shown as text')&lt;/script&gt;" in "".join(
        segment["html"] for segment in segments_of(task))
    table = by_type["Table"][0]
    assert table["html"].startswith("<table>") and '<th>Fruit</th>' in table["html"]
    assert table["markdown"].startswith("| Fruit | Count |")


# The sanitiser alone


@pytest.mark.parametrize("markup, expected", [
    ('<img src=x onerror=alert(1)>', '<img src="x">'),
    ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="JaVaScRiPt:alert(1)">x</a>', "<a>x</a>"),
    ('<a href="&#x6A;avascript&colon;alert(1)">x</a>', "<a>x</a>"),
    ('<a href="https://example.com/">x</a>', '<a href="https://example.com/">x</a>'),
    ('<a href="#part-2">x</a>', '<a href="#part-2">x</a>'),
    ('<img src="data:image/png;base64,iVBORw0KGgo=" alt="p">', '<img alt="p">'),
    ("<script>alert(1)</script>after", "after"),
    ("<style>body{}</style>after", "after"),
    ('<iframe src="https://x"></iframe>after', "after"),
    ("<svg onload=alert(1)><text>t</text></svg>after", "after"),
    ('<form action="https://x"><input value="v"><button>b</button></form>', "b"),
    ('<th style="text-align:right;background:url(x)">h</th>', "h"),
    ('<table><tr><th style="text-align:right;background:url(x)">h</th></tr></table>',
     '<table><tr><th style="text-align:right">h</th></tr></table>'),
    ('<pre><code class="language-python">x = 1</code></pre>', '<pre><code class="language-python">x = 1</code></pre>'),
    ('<ol start="3"><li>three</li></ol>', '<ol start="3"><li>three</li></ol>'),
    ("<!-- a comment --><p>p</p>", "<p>p</p>"),
])
def test_sanitize_html(markup, expected):
    assert sanitize_html(markup) == expected


@pytest.mark.parametrize("markdown, expected", [
    ("[x](javascript:alert(1))", "[x](#(1))"),
    ("[x]( JaVaScRiPt:alert(1))", "[x]( #(1))"),
    ("[x](&#106;avascript:alert(1))", "[x](#(1))"),
    ("[x](java\tscript:alert(1))", "[x](#(1))"),
    ("[x](<javascript:alert(1)>)", "[x](<#(1)>)"),
    ("![x](data:image/png;base64,AAAA)", "![x](#)"),
    ("[ref]: javascript:alert(1)", "[ref]: #(1)"),
    ("<javascript:alert(1)>", "<#(1)>"),
    ("a <img src=x onerror=alert(1)> b", 'a <img src="x"> b'),
    ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
    ("<script>alert(1)</script>", "alert(1)"),
    ("[ok](https://example.com) <b>b</b> <https://example.com>", "[ok](https://example.com) <b>b</b> <https://example.com>"),
    ("`<img onerror=x>`", "`<img onerror=x>`"),
    ("```\n<script>x</script>\n```", "```\n<script>x</script>\n```"),
    ("1 < 2 and 3 > 2: fine", "1 < 2 and 3 > 2: fine"),
])
def test_sanitize_markdown(markdown, expected):
    assert sanitize_markdown(markdown) == expected


@pytest.mark.parametrize("url, unsafe", [
    ("javascript:x", True), ("JAVASCRIPT:x", True), ("java\tscript:x", True), ("&#x6A;avascript:x", True),
    ("vbscript:x", True), ("data:text/html,x", True), ("https://x", False), ("/relative", False), ("#top", False),
])
def test_unsafe_urls(url, unsafe):
    assert is_unsafe_url(url) is unsafe
