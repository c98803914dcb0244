"""The decision record: a printable page and a PDF of the same record, each a complete
account of one share that a reader new to Safeshare can follow alone, anchored to the audit
log's hash chain, shown only to those who may see the share, and logged on every copy."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from cases import choices, services
from cases.models import Release, Share, ShareVersion
from permissions.models import AuditAction, AuditEntry
from workflows import steps
from workflows.decision_record import Fields, Table, Text, _item_blocks, decision_record
from workflows.decision_record_pdf import decision_record_pdf
from workflows.record_wording import ABBREVIATIONS

from .http_helpers import page_text, url
from .seeded import Demo, seeded_once

FORMATS = ("page", "pdf")


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    with seeded_once(django_db_blocker, Demo().seed) as demo:
        yield demo


@pytest.fixture
def demo(db: Any, seeded: Demo) -> Demo:
    return seeded


def browser(demo: Demo, username: str) -> Client:
    client = Client()
    client.force_login(demo.user(username))
    return client


def oak_share(status: str) -> Share:
    return Share.objects.get(status=status, case__reference__startswith="OAK")


def record_url(share: Share | int, form: str) -> str:
    pk = share if isinstance(share, int) else share.pk
    return url("decision_record_pdf" if form == "pdf" else "decision_record", pk)


FOOTER = re.compile(r"^(Decision record, share #\d+|Page \d+ of \d+)$", re.M)


def pdf_pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(BytesIO(content)).pages]


def pdf_text(content: bytes) -> str:
    """The record's text without the page footers, which fall inside a paragraph that
    continues onto the next page."""
    return flat(FOOTER.sub(" ", "\n".join(pdf_pages(content))))


def flat(text: str) -> str:
    """Spaces collapsed: the PDF wraps lines where the page does not."""
    return " ".join(text.split())


def read(client: Client, share: Share, form: str) -> str:
    response = client.get(record_url(share, form))
    assert response.status_code == 200, response.status_code
    if form == "pdf":
        return pdf_text(response.content)
    return flat(page_text(response))


def latest_entry(share: Share) -> AuditEntry:
    return AuditEntry.objects.filter(share=share).order_by("-sequence").first()


def golden_rule_values(share: Share) -> list[str]:
    recipient = share.recipient
    return [
        share.purpose,
        share.get_direction_display(),
        share.get_urgency_display(),
        recipient.person_name,
        recipient.role,
        recipient.agency_name,
        share.get_sending_method_display(),
        share.get_lawful_basis_display(),
        *share.statutory_gateway_labels,
        share.get_consent_status_display(),
        share.get_consent_not_sought_reason_display(),
        share.get_family_informed_display(),
        share.get_family_not_told_reason_display(),
        share.risk_if_shared,
        share.risk_if_not_shared,
    ]


def missing_from(text: str, expected: list[str]) -> list[str]:
    return [value for value in expected if flat(value) not in text]


# --- A complete account --------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMATS)
def test_the_refused_share_reads_as_a_complete_account(demo: Demo, form: str) -> None:
    share = oak_share(choices.ShareStatus.REFUSED)
    decision = share.decisions.get()
    child = share.case.child
    text = read(browser(demo, "lead"), share, form)

    expected = [
        "Oakfield Nursery",
        share.case.reference,
        f"{child.first_name} {child.last_name}",
        "2 November 2021",  # date of birth
        decision.reasons,
        "The recipient already holds this information",  # the coded refusal reason
        "Grace Lead",
        "Designated Safeguarding Lead",
        "Share proposed",
        "Share submitted for lead review",
        "Decision recorded",
        "Priya Practitioner",
        "Practitioner",
        "Nothing was shared: the share was refused.",
        *golden_rule_values(share),
        *(item.content for item in share.items.all()),
    ]
    assert not missing_from(text, expected)
    anchor = latest_entry(share)
    assert f"Audit log entry {anchor.sequence} " in text
    assert anchor.entry_hash in text
    assert f"verify_audit --anchor {anchor.sequence}:{anchor.entry_hash}" in text


@pytest.mark.parametrize("form", FORMATS)
def test_the_released_share_shows_exactly_what_was_sent_and_to_whom(demo: Demo, form: str):
    share = oak_share(choices.ShareStatus.RELEASED)
    release = Release.objects.get(share=share)
    decision = share.decisions.get()
    text = read(browser(demo, "lead"), share, form)

    expected = [
        decision.reasons,
        "Approve",
        "Grace Lead",
        "Designated Safeguarding Lead",
        release.recipient_name,
        release.recipient_role,
        release.recipient_agency,
        release.note,
        "Release recorded",
        "Not yet possible (they will be told)",
        share.family_not_told_detail,
        *golden_rule_values(share),
        *(sent["text"] for sent in release.content),
    ]
    assert release.content, "the demo release sent something"
    assert not missing_from(text, expected)
    anchor = latest_entry(share)
    assert anchor.entry_hash in text
    assert f"Audit log entry {anchor.sequence} " in text


def test_the_page_and_the_pdf_render_every_line_of_the_same_record(demo: Demo) -> None:
    """Both are drawn from one assembled record; neither may drop any part of it."""
    for status in (choices.ShareStatus.REFUSED, choices.ShareStatus.RELEASED):
        share = oak_share(status)
        client = browser(demo, "lead")
        response = client.get(record_url(share, "page"))
        record = response.context["record"]
        strings = [record.title]
        for section in record.sections:
            strings.append(section.title)
            for block in section.blocks:
                strings.append(block.heading)
                if isinstance(block, Fields):
                    strings += [part for row in block.rows for part in row]
                elif isinstance(block, Table):
                    strings += [*block.columns, *(cell for row in block.rows for cell in row)]
                else:
                    assert isinstance(block, Text)
                    strings += block.paragraphs
        strings = [s for s in strings if s]
        assert not missing_from(flat(page_text(response)), strings)
        pdf = pdf_text(decision_record_pdf(record))
        assert not missing_from(pdf, strings)


def test_a_draft_shows_the_advice_sought_and_the_answer_awaited(demo: Demo) -> None:
    share = Share.objects.filter(consultations__isnull=False).distinct().get()
    text = read(browser(demo, "practitioner"), share, "pdf")
    answered, waiting = share.consultations.order_by("pk")
    assert not missing_from(
        text, [answered.question, answered.advice, waiting.question, "Not answered yet"]
    )
    assert "Colin Colleague (A colleague)" in text
    assert "As drafted: never submitted." in text


def test_an_emergency_release_gives_its_justification(demo: Demo) -> None:
    share = oak_share(choices.ShareStatus.RELEASED_IN_EMERGENCY)
    text = read(browser(demo, "deputy"), share, "page")
    assert flat(share.emergency_justification) in text
    assert "in an emergency before any decision" in text
    assert "no decision: released in an emergency, before the lead's review" in text


def test_a_retrospective_decision_says_it_could_not_unsend_what_had_gone(demo: Demo) -> None:
    share = oak_share(choices.ShareStatus.RELEASED_IN_EMERGENCY)
    steps.decide(
        share=share,
        user=demo.user("lead"),
        outcome=choices.Outcome.REFUSE,
        refusal_reason=choices.RefusalReason.NOT_PROPORTIONATE,
        reasons="The deputy's mobile was on; this could have waited an hour.",
    )
    for form in FORMATS:
        text = read(browser(demo, "lead"), share, form)
        assert "A retrospective review: the information had already been sent, in an " in text
        assert "This decision records the lead's view; it could not unsend it." in text


def test_an_item_identifying_someone_says_who_as_the_proposer_flagged_it(demo: Demo) -> None:
    text = read(browser(demo, "lead"), oak_share(choices.ShareStatus.APPROVED), "page")
    assert "identifies someone else (a referrer, a witness or another child)" in text
    assert "Who it identifies Ms J. Rowe" in text


def test_the_anchor_shown_is_accepted_by_verify_audit(demo: Demo, capsys: Any) -> None:
    share = oak_share(choices.ShareStatus.RELEASED)
    text = read(browser(demo, "lead"), share, "pdf")
    anchor = re.search(r"verify_audit --anchor (\d+:[0-9a-f]{64})", text)
    assert anchor is not None
    call_command("verify_audit", "--anchor", anchor.group(1))
    assert "Audit chain intact" in capsys.readouterr().out


# --- The PDF as a file ---------------------------------------------------------------------


def test_the_pdf_is_a_download_named_by_the_share_with_a_footer_on_every_page(demo: Demo):
    share = oak_share(choices.ShareStatus.RELEASED)
    response = browser(demo, "lead").get(record_url(share, "pdf"))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="decision-record-share-{share.pk}.pdf"'
    )
    assert "no-store" in response["Cache-Control"].split(", ")
    child = share.case.child
    assert child.first_name not in response["Content-Disposition"]
    reader = PdfReader(BytesIO(response.content))
    assert child.last_name not in str(reader.metadata)
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        assert f"Decision record, share #{share.pk}" in page
        assert f"Page {number} of {len(pages)}" in page


def test_text_typed_with_markup_characters_prints_as_typed(demo: Demo) -> None:
    practitioner = demo.user("practitioner")
    awkward = 'Mum said "stop" & <b>left</b> at 5 < 6 > 4; it\'s <br/> & </para> done'
    share = steps.propose(
        case=demo.case("OAK-001"),
        user=practitioner,
        fields={"purpose": awkward, "risk_if_shared": "Line one\r\nLine two & three"},
        items=[
            {
                "category": choices.ItemCategory.OTHER,
                "content": f"Item: {awkward} \u2014 Zo\u00eb \u2713 \U0001f600",
                "necessity": "<i>needed</i>",
            }
        ],
    )
    client = browser(demo, "practitioner")
    pdf = read(client, share, "pdf")
    assert flat(awkward) in pdf
    assert "Line one Line two & three" in pdf
    assert "<i>needed</i>" in pdf
    assert "Zo\u00eb" in pdf

    page = client.get(record_url(share, "page")).content.decode()
    assert html.escape(awkward, quote=True) in page
    assert "<b>left</b>" not in page


def _flags(blocks: Any) -> list[str]:
    return [
        value
        for block in blocks
        if isinstance(block, Fields)
        for label, value in block.rows
        if label == "Flags"
    ]


def test_an_item_special_by_nature_is_recorded_as_special_category_whatever_its_box(
    demo: Demo,
) -> None:
    draft = Share.objects.get(purpose="Ask the health visitor to check on weight loss.")
    assert draft.items.get().category == choices.ItemCategory.HEALTH
    draft.items.update(is_special_category=False)  # as stored before health counted by nature
    record = decision_record(draft, demo.user("practitioner"))
    drafted = next(section for section in record.sections if section.key == "items")
    assert _flags(drafted.blocks) == ["special category data"]

    # A version frozen before then holds False too; the record still says what the law says.
    frozen = ShareVersion(
        share=draft,
        number=1,
        content={
            "items": [
                {
                    "id": 1,
                    "category": choices.ItemCategory.HEALTH,
                    "content": "Weight has dropped.",
                    "necessity": "For the health visitor.",
                    "is_special_category": False,
                    "identifies_third_party": False,
                }
            ]
        },
    )
    assert _flags(_item_blocks(draft, frozen)) == ["special category data"]


def test_the_words_used_explain_every_schedule1_paragraph_a_share_can_name() -> None:
    explained = dict(ABBREVIATIONS)["Sch 1 para"]
    for paragraph in choices.Schedule1Paragraph:
        assert f"Paragraph {paragraph.value.removeprefix('para_')} (" in explained, paragraph
    assert "preventing or detecting unlawful acts" in explained


def test_a_control_character_pasted_in_does_not_stop_the_pdf(demo: Demo) -> None:
    share = oak_share(choices.ShareStatus.REFUSED)
    record = decision_record(share, demo.user("lead"))
    pasted = Fields("Pasted", (("From a word processor", "before\x0bafter\x00 & <"),))
    first = record.sections[0]
    record = type(record)(
        share_id=record.share_id,
        title=record.title,
        sections=(type(first)(first.key, first.title, (*first.blocks, pasted)),),
        anchor_sequence=record.anchor_sequence,
        anchor_hash=record.anchor_hash,
    )
    text = pdf_text(decision_record_pdf(record))
    assert "beforeafter & <" in text


# --- Who may read it, and the access log ---------------------------------------------------


@pytest.mark.parametrize("form", FORMATS)
@pytest.mark.parametrize("persona", ["otherlead", "colleague", "manager", "auditor"])
def test_someone_who_may_not_see_the_share_gets_not_found(demo: Demo, persona: str, form: str):
    client = browser(demo, persona)
    for status in (choices.ShareStatus.REFUSED, choices.ShareStatus.RELEASED):
        assert client.get(record_url(oak_share(status), form)).status_code == 404
    assert client.get(record_url(999999, form)).status_code == 404


@pytest.mark.parametrize("form", FORMATS)
def test_someone_signed_out_is_sent_to_sign_in(demo: Demo, form: str) -> None:
    response = Client().get(record_url(oak_share(choices.ShareStatus.REFUSED), form))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("form", FORMATS)
def test_every_copy_is_written_to_the_access_log(demo: Demo, form: str) -> None:
    share = oak_share(choices.ShareStatus.RELEASED)
    decision, release = share.decisions.get(), Release.objects.get(share=share)
    mark = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True)[0]

    read(browser(demo, "practitioner"), share, form)

    logged = list(
        AuditEntry.objects.filter(pk__gt=mark)
        .order_by("pk")
        .values_list("actor__username", "action", "object_id", "basis", "detail")
    )
    assert logged == [
        (
            "practitioner",
            AuditAction.VIEW_SHARE,
            share.pk,
            "case team",
            f"share {share.pk}; decision {decision.pk}; release {release.pk}",
        ),
    ]


def test_a_refused_copy_is_not_written_for_an_outsider(demo: Demo) -> None:
    share = oak_share(choices.ShareStatus.REFUSED)
    before = AuditEntry.objects.count()
    assert browser(demo, "otherlead").get(record_url(share, "pdf")).status_code == 404
    assert AuditEntry.objects.count() == before


def test_the_share_page_links_to_the_record_and_its_pdf(demo: Demo) -> None:
    share = oak_share(choices.ShareStatus.REFUSED)
    page = browser(demo, "lead").get(url("share_detail", share.pk)).content.decode()
    assert f'href="{record_url(share, "page")}"' in page
    assert f'href="{record_url(share, "pdf")}"' in page


def test_the_record_costs_the_same_queries_however_much_advice_was_sought(demo: Demo) -> None:
    share = Share.objects.filter(consultations__isnull=False).distinct().get()
    client = browser(demo, "practitioner")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(record_url(share, "pdf")).status_code == 200
        return len(captured.captured_queries)

    before = queries()
    for adviser in ("deputy", "auditor", "manager"):
        services.advice_ask(
            share=share,
            user=demo.user("practitioner"),
            adviser=demo.user(adviser),
            question="Is this proportionate?",
        )
    assert queries() == before
