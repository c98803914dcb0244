"""The Content Security Policy: sent with every page, strict, and kept by the templates.

The browser tests (tests/e2e) fail on any violation a real page reports in Chromium; these
are the fast checks: the header is there, it allows nothing from another host and no inline
script, and no template of Safeshare's has an inline script, an event-handler attribute, a
javascript: URL or an inline style, which the policy would block.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Collection
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from cases.models import Case

HEADER = "Content-Security-Policy"
ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_FOLDERS = [ROOT / app / "templates" for app in ("cases", "permissions", "workflows")]
# A source that names no host: a keyword, a hash or a nonce, always in single quotes.
QUOTED_SOURCE = re.compile(r"'(self|none|sha(256|384|512)-[A-Za-z0-9+/=]+|nonce-[A-Za-z0-9+/=]+)'")


def directives(response: Any) -> dict[str, list[str]]:
    """The policy a response carries, directive by directive."""
    assert HEADER in response, f"no {HEADER} header"
    policy: dict[str, list[str]] = {}
    for part in response[HEADER].split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


@pytest.fixture
def case_page(client: Any, lead: Any, case: Case) -> Any:
    client.force_login(lead)
    response = client.get(reverse("safeguarding:case_detail", args=[case.pk]))
    assert response.status_code == 200
    return response


@pytest.fixture
def sign_in_page(client: Any, db: Any) -> Any:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    return response


@pytest.fixture(params=["case_page", "sign_in_page"])
def policy(request: pytest.FixtureRequest) -> dict[str, list[str]]:
    return directives(request.getfixturevalue(request.param))


def test_the_pages_are_sent_with_the_policy(case_page: Any, sign_in_page: Any) -> None:
    assert case_page[HEADER]
    assert sign_in_page[HEADER] == case_page[HEADER]


def test_a_form_failing_its_csrf_check_gets_a_page_the_policy_allows(db: Any) -> None:
    # Django's own page for this styles itself inline; Safeshare's (403_csrf.html) does not.
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x"})
    assert response.status_code == 403
    assert directives(response)["style-src"][0] == "'self'"
    assert "The form was not sent" in response.text
    assert inline_code(response.text) == []


def test_scripts_come_from_the_site_alone_and_never_inline(policy: dict[str, list[str]]) -> None:
    # 'self' and nothing else: no 'unsafe-inline', no 'unsafe-eval', no host (a nonce would
    # be allowed here, but no page needs one).
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'none'"]
    assert "script-src-elem" not in policy and "script-src-attr" not in policy


def test_no_directive_names_another_host_or_allows_inline(policy: dict[str, list[str]]) -> None:
    loose = {
        name: source
        for name, sources in policy.items()
        for source in sources
        if not QUOTED_SOURCE.fullmatch(source)
    }
    assert loose == {}


def test_nothing_may_embed_a_page_rebase_it_or_post_it_elsewhere(
    policy: dict[str, list[str]],
) -> None:
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def _turbo_progress_bar_css() -> str:
    """The stylesheet viewflow's Turbo puts in a <style> element on every page it starts on
    (its ProgressBar.defaultCSS), worked out from the installed file as Turbo builds it."""
    path = finders.find("viewflow/js/turbo.es2017-umd.js")
    assert path, "viewflow's Turbo is not among the static files"
    source = Path(str(path)).read_text()
    found = re.search(r"static get defaultCSS\(\) \{\s*return unindent `(.*?)`;", source, re.S)
    assert found, "Turbo's progress bar stylesheet was not found: has Turbo changed?"
    text = found.group(1)
    text = text.replace("${ProgressBar.animationDuration / 2}", "150")
    text = text.replace("${ProgressBar.animationDuration}", "300")
    assert "${" not in text and "ProgressBar.animationDuration = 300;" in source
    # Turbo's unindent(): drop the first newline and the first line's indentation everywhere.
    lines = text.removeprefix("\n").split("\n")
    indent = len(lines[0]) - len(lines[0].lstrip())
    return "\n".join(line[indent:] for line in lines)


def _diagram_css() -> str:
    """The <style> element of the share workflow's diagram (Safeshare's graph.svg)."""
    text = (ROOT / "cases/templates/viewflow/workflow/graph.svg").read_text()
    found = re.search(r'<style type="text/css"><!\[CDATA\[(.*?)\]\]></style>', text, re.S)
    assert found, "the diagram's stylesheet was not found"
    return found.group(1)


def _hash(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_the_inline_styles_allowed_are_turbos_progress_bar_and_the_diagrams(
    policy: dict[str, list[str]],
) -> None:
    # Each hash allows one exact text; nothing else inline, and no style attribute.
    assert policy["style-src"] == [
        "'self'",
        _hash(_turbo_progress_bar_css()),
        _hash(_diagram_css()),
    ]
    assert "style-src-elem" not in policy and "style-src-attr" not in policy


class _InlineCode(HTMLParser):
    """What in one template the policy would block: inline scripts and styles, handlers.

    A <style> element passes only if the policy allows its text by hash, as it does the
    diagram's (an SVG, where a CDATA section holds the text).
    """

    def __init__(self, allowed_styles: Collection[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed_styles = set(allowed_styles)
        self.found: list[str] = []
        self.style: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append(f"line {self.getpos()[0]}: <script> without src")
        if tag == "style":
            self.style = []
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.found.append(f"line {self.getpos()[0]}: {name}= handler")
            if name == "style":
                self.found.append(f"line {self.getpos()[0]}: style= attribute")
            if value and re.match(r"\s*javascript:", value, re.I):
                self.found.append(f"line {self.getpos()[0]}: javascript: URL")

    def handle_data(self, data: str) -> None:
        if self.style is not None:
            self.style.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self.style is not None:
            text = "".join(self.style)
            text = text.removeprefix("<![CDATA[").removesuffix("]]>")
            if _hash(text) not in self.allowed_styles:
                self.found.append(f"line {self.getpos()[0]}: <style> element")
            self.style = None


def inline_code(text: str, allowed_styles: Collection[str] = ()) -> list[str]:
    parser = _InlineCode(allowed_styles)
    parser.feed(text)
    parser.close()
    # A javascript: URL hidden from the parser behind a template tag still counts.
    if re.search(r"""=\s*["']?[^"'>]*javascript:""", text, re.I) and not any(
        "javascript:" in found for found in parser.found
    ):
        parser.found.append("javascript: URL")
    return parser.found


def _templates() -> list[Path]:
    return sorted(
        path for folder in TEMPLATE_FOLDERS for path in folder.rglob("*") if path.is_file()
    )


def test_the_scan_finds_what_the_policy_blocks() -> None:
    assert inline_code('<script src="/static/a.js"></script><a href="/x">x</a>') == []
    assert len(inline_code("<script>alert(1)</script>")) == 1
    assert len(inline_code('<button onclick="go()">Go</button>')) == 1
    assert len(inline_code('<a href="JavaScript:go()">Go</a>')) == 1
    assert len(inline_code('<a href="{% if x %}javascript:go(){% endif %}">Go</a>')) == 1
    assert len(inline_code('<p style="color:red">x</p>')) == 1
    assert len(inline_code("<style>p { color: red }</style>")) == 1
    allowed = [_hash("p { color: red }")]
    assert inline_code("<style>p { color: red }</style>", allowed) == []
    assert inline_code("<style><![CDATA[p { color: red }]]></style>", allowed) == []
    assert len(inline_code("<style>p { color: blue }</style>", allowed)) == 1


def test_no_template_has_inline_script_handlers_javascript_urls_or_inline_styles() -> None:
    templates = _templates()
    assert len(templates) > 40
    allowed = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["style-src"]
    found = {
        str(path.relative_to(ROOT)): problems
        for path in templates
        if (problems := inline_code(path.read_text(), allowed))
    }
    assert found == {}
