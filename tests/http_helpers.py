"""Read the rendered pages the way a browser would, for the HTTP tests.

``form_data`` collects what a browser would send for the page's main form (class
``ss-form``) as rendered, so a test fills in only what a person would type.
``error_text`` reads the error shown beside one field (``<id>-error``), so a test can
check a message is next to its own field and not somewhere else on the page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.models import Task

from cases import app_settings, choices
from cases.models import ApprovedItem, Decision, Release, Share, ShareItem
from workflows.models import ShareProcess

DEMO_PASSWORD = "safeshare-demo"
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in London

_VOID = {"input", "br", "img", "meta", "link", "hr", "col", "area", "base", "source", "wbr"}


class _FormReader(HTMLParser):
    """The successful controls of the first ``<form class="ss-form">`` on the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_form = False
        self.done = False
        # None when the form has no action: a browser then posts to the address it shows.
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.names: set[str] = set()
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._option_value: str | None = None
        self._option_selected = False
        self._option_text: list[str] = []
        self._in_option = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: (value if value is not None else "") for key, value in attrs}
        if tag == "form" and not self.done and "ss-form" in a.get("class", "").split():
            self.in_form = True
            self.action = a.get("action")
            return
        if not self.in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            self.names.add(name)
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
                return
            self.fields.append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self.names.add(name)
            self._textarea, self._text = name, []
        elif tag == "select" and name:
            self.names.add(name)
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._in_option = True
            self._option_value = a.get("value")
            self._option_selected = "selected" in a
            self._option_text = []
        elif tag == "button" and name:
            self.names.add(name)

    def handle_endtag(self, tag: str) -> None:
        if not self.in_form:
            return
        if tag == "form":
            self.in_form, self.done = False, True
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            # Browsers drop the newline Django writes straight after <textarea>.
            if text.startswith("\r\n"):
                text = text[2:]
            elif text.startswith("\n"):
                text = text[1:]
            self.fields.append((self._textarea, text))
            self._textarea = None
        elif tag == "option" and self._in_option:
            self._close_option()
        elif tag == "select" and self._select is not None:
            if self._in_option:
                self._close_option()
            chosen = [value for value, selected in self._options if selected]
            if not chosen and self._options:
                chosen = [self._options[0][0]]  # a single select sends its first option
            self.fields.extend((self._select, value) for value in chosen[:1])
            self._select = None

    def _close_option(self) -> None:
        value = self._option_value
        if value is None:
            value = "".join(self._option_text).strip()
        self._options.append((value, self._option_selected))
        self._in_option = False

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)
        elif self._in_option:
            self._option_text.append(data)


def _read_form(page: str) -> _FormReader:
    reader = _FormReader()
    reader.feed(page)
    reader.close()
    assert reader.done, "the page has no <form class='ss-form'>"
    return reader


def form_data(response: Any, **changes: Any) -> dict[str, Any]:
    """What a browser would post for the page's form, with ``changes`` typed over it.

    A change of ``None`` removes the field (an unticked box, a blank radio group);
    a list posts several values under one name.
    """
    page = response.content.decode() if hasattr(response, "content") else response
    reader = _read_form(page)
    data: dict[str, Any] = {}
    for name, value in reader.fields:
        if name == "csrfmiddlewaretoken":
            continue
        if name in data:
            existing = data[name]
            data[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            data[name] = value
    for name, value in changes.items():
        name = name.replace("__", "-")
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def form_action(response: Any) -> str | None:
    """The page's form's ``action`` as rendered; None when it has none (a browser then posts
    to whatever address it shows, which after a Turbo submission may be another page's)."""
    return _read_form(response.content.decode()).action


@dataclass
class PageForm:
    """One ``<form>`` of a page: its attributes, its named inputs and its buttons' text."""

    attrs: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[str] = field(default_factory=list)


class _AllForms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self._open: PageForm | None = None
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: (value if value is not None else "") for key, value in attrs}
        if tag == "form":
            self._open = PageForm(attrs=a)
            self.forms.append(self._open)
        elif self._open is not None and tag == "input" and a.get("name"):
            if a.get("type", "text") not in ("submit", "button", "image", "reset", "file"):
                self._open.fields[a["name"]] = a.get("value", "")
        elif self._open is not None and tag == "button":
            self._button = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None
        elif tag == "button" and self._open is not None and self._button is not None:
            self._open.buttons.append(" ".join("".join(self._button).split()))
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)


def page_forms(response: Any) -> list[PageForm]:
    """Every form of the page, in order (the row buttons of a list among them)."""
    reader = _AllForms()
    reader.feed(response.content.decode())
    reader.close()
    return reader.forms


def form_field_names(response: Any) -> set[str]:
    """Every named control of the page's form, as rendered."""
    return _read_form(response.content.decode()).names


class _ElementText(HTMLParser):
    """The text of every element matching an id or a class."""

    def __init__(self, element_id: str | None = None, css_class: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id, self.css_class = element_id, css_class
        self.found: list[str] = []
        self._open: list[tuple[str, list[str] | None]] = []

    def _matches(self, attrs: dict[str, str]) -> bool:
        if self.element_id is not None and attrs.get("id") == self.element_id:
            return True
        return self.css_class is not None and self.css_class in attrs.get("class", "").split()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        a = {key: (value or "") for key, value in attrs}
        self._open.append((tag, [] if self._matches(a) else None))

    def handle_endtag(self, tag: str) -> None:
        if not any(open_tag == tag for open_tag, _ in self._open):
            return
        while self._open:
            open_tag, parts = self._open.pop()
            if parts is not None:
                self.found.append(" ".join(" ".join(parts).split()))
            if open_tag == tag:
                return

    def handle_data(self, data: str) -> None:
        for _, parts in self._open:
            if parts is not None:
                parts.append(data)


def _texts(page: str, element_id: str | None = None, css_class: str | None = None) -> list[str]:
    parser = _ElementText(element_id, css_class)
    parser.feed(page)
    parser.close()
    return parser.found


def page_text(response: Any) -> str:
    """The page as text (tags removed, entities decoded, spaces collapsed)."""
    page = response.content.decode()
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def error_text(response: Any, field_id: str) -> str:
    """The error shown next to one field: the element ``<field_id>-error`` the widget names."""
    page = response.content.decode()
    found = _texts(page, element_id=f"{field_id}-error")
    if not found:
        return ""
    # The widget (or its fieldset) must point at the error, so it is announced with the field.
    assert re.search(rf'aria-describedby="[^"]*\b{re.escape(field_id)}-error\b', page), (
        f"{field_id} does not point at its error"
    )
    return found[0]


def texts_of_class(response: Any, css_class: str) -> list[str]:
    return _texts(response.content.decode(), css_class=css_class)


def text_of_id(response: Any, element_id: str) -> str:
    found = _texts(response.content.decode(), element_id=element_id)
    return found[0] if found else ""


def item_block(response: Any, number: int) -> str:
    """The text of the page's "Item <number>" fieldset on the share form."""
    page = response.content.decode()
    start = page.find(f"<h3>Item {number}</h3>")
    assert start != -1, f"no Item {number} on the page"
    end = page.find(f"<h3>Item {number + 1}</h3>", start)
    if end == -1:
        end = page.find('class="ss-actions"', start)
    chunk = page[start:end]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", chunk)).split())


def user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def password_works(client: Any, username: str, password: str) -> bool:
    """Whether this password signs the person in (Django's test sign-in; the lockout needs
    a request to count by)."""
    from django.http import HttpRequest

    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    return bool(client.login(request=request, username=username, password=password))


def login(client: Any, username: str) -> Any:
    """Sign in as a demo persona through the real sign-in form."""
    client.logout()
    response = client.post(reverse("login"), {"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, f"{username} could not sign in"
    return user(username)


def url(name: str, *args: Any) -> str:
    return reverse(f"safeguarding:{name}", args=args)


def site_link(path: str) -> str:
    """A page's full address as an email gives it: the site's address, then the path."""
    return app_settings.get("SAFESHARE_SITE_URL").rstrip("/") + path


def get_ok(client: Any, path: str, *expected: str) -> Any:
    """GET a page; it must render (200) and show each expected snippet."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    text = page_text(response)
    for snippet in expected:
        assert snippet in text, (path, snippet)
    return response


def share_from_redirect(response: Any) -> Share:
    """The share a successful POST redirected to (its own page)."""
    assert response.status_code == 302, response.content.decode()[:3000]
    match = re.search(r"/shares/(\d+)/$", response["Location"])
    assert match, response["Location"]
    share = Share.objects.get(pk=int(match.group(1)))
    assert response["Location"] == url("share_detail", share.pk)
    return share


def snapshot() -> dict[str, Any]:
    """Every row a share's journey can write, so a test can show nothing was written."""
    return {
        "counts": {
            model.__name__: model.objects.count()
            for model in (Share, ShareItem, Decision, ApprovedItem, Release, ShareProcess, Task)
        },
        "shares": {
            row["pk"]: row
            for row in Share.objects.values(
                "pk",
                "status",
                "purpose",
                "lawful_basis",
                "recipient_id",
                "withdrawn_reason",
                "submitted_at",
                "updated_at",
            )
        },
        "items": sorted(
            ShareItem.objects.values_list(
                "pk",
                "share_id",
                "position",
                "category",
                "content",
                "necessity",
                "third_party_handling",
                "redacted_content",
            )
        ),
        "tasks": sorted(Task.objects.values_list("pk", "status", "owner_id")),
    }


def sent_at_typed(clock: Any, decided_at: datetime) -> str:
    """Move on a few minutes and give the time sent as a person types it (to the minute)."""
    clock.move_to(decided_at + timedelta(minutes=5), tick=False)
    sent = timezone.localtime(decided_at + timedelta(minutes=2))
    return sent.strftime("%Y-%m-%dT%H:%M")


PURPOSE = "Refer Maisie to children's social care after a second bruise this week."
ITEM_1 = "Bruise on the left cheek seen at drop-off on Tuesday; recorded on a body map."
ITEM_2 = "Maisie said 'Daddy was cross' when asked about it, unprompted."


def complete_share(page: Any, recipient_pk: int, **changes: Any) -> dict[str, Any]:
    """The propose/edit form filled in as a careful practitioner would, ready to submit."""
    typed = {
        "purpose": PURPOSE,
        "urgency": choices.Urgency.URGENT,
        "recipient": str(recipient_pk),
        "sending_method": choices.SendingMethod.SECURE_EMAIL,
        "lawful_basis": choices.LawfulBasis.LEGITIMATE_INTERESTS,
        "statutory_gateways": [choices.StatutoryGateway.CA1989_S47],
        "consent_status": choices.ConsentStatus.NOT_SOUGHT,
        "consent_not_sought_reason": choices.ConsentNotSoughtReason.WOULD_INCREASE_RISK,
        "family_informed": choices.FamilyInformed.NOT_TOLD,
        "family_not_told_reason": choices.FamilyNotToldReason.INCREASE_RISK,
        "risk_if_shared": "The family may stop bringing Maisie to nursery.",
        "risk_if_not_shared": "Physical harm may continue without an assessment.",
        "items-0-category": choices.ItemCategory.OBSERVATION,
        "items-0-content": ITEM_1,
        "items-0-necessity": "Social care need the observation to decide on a s47 enquiry.",
        "action": "submit",
    }
    typed.update(changes)
    return form_data(page, **typed)
