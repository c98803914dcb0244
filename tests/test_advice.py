"""Golden rule 3, seek advice: the proposer asks about a draft without naming the child.

The adviser sees the question and the share as they were de-identified when asked, who
asked and when, and nothing else: no child, no case, no way to either. Only the adviser
finds the question. The rules are the services'; each ask and each answer is one entry in
the audit log. Everything runs on the demo, seeded once for the module.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from cases import choices
from cases.deidentify import deidentified_question, deidentified_text
from cases.models import Child, Consultation, Membership, Recipient, Share
from cases.services import (
    RuleViolation,
    advice_ask,
    advice_give,
    membership_end,
    membership_start,
)
from permissions.audit import records_shown
from permissions.models import AuditAction, AuditEntry
from workflows import steps

from .factories import UserFactory
from .http_helpers import error_text, form_data, page_text, text_of_id, url
from .seeded import Demo, seeded_once

ASK_REFUSED = "Advice can be asked only by the proposer, while the share is a draft."
NOT_AN_ADVISER = "Choose someone of this setting, other than yourself, to ask."
NO_QUESTION = "Write the question you want advice on."


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Demo]:
    with seeded_once(django_db_blocker, Demo().seed) as demo:
        yield demo


@pytest.fixture
def demo(db: Any, seeded: Demo) -> Demo:
    return seeded


def browser(demo: Demo, username: str) -> Client:
    client = Client()
    client.raise_request_exception = True  # no test passes on a 500
    client.force_login(demo.user(username))
    return client


def draft(demo: Demo) -> Share:
    """The demo's draft on OAK-001, on which advice was asked of the lead and a colleague."""
    return Consultation.objects.order_by("pk").first().share


def asked_of(demo: Demo, username: str) -> Consultation:
    return Consultation.objects.get(adviser=demo.user(username))


def last_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def logged_since(mark: int) -> list[tuple[str, str, str, int]]:
    return list(
        AuditEntry.objects.filter(pk__gt=mark)
        .order_by("pk")
        .values_list("actor__username", "action", "object_type", "object_id")
    )


def found(term: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE) is not None


# --- What the adviser sees names nobody ------------------------------------------------------


PROPOSER = {"Oakfield": "practitioner", "Riverside": "otherlead"}
DOB_FORMS = (
    "{d:%d/%m/%Y}",
    "{d.day}/{d.month}/{d.year}",
    "{d:%Y-%m-%d}",
    "{d:%d.%m.%Y}",
    "{d:%d-%m-%Y}",
    "{d:%d/%m/%y}",
    "{d.day} {d:%B %Y}",
    "{d:%d %B %Y}",
    "{d.day} {d:%b %Y}",
    "{ordinal} {d:%B %Y}",
    "{d:%B} {d.day}, {d.year}",
)


def _ordinal(day: int) -> str:
    return f"{day}{'th' if 10 <= day <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def dates_of_birth(child: Child) -> list[str]:
    day = child.date_of_birth
    return [form.format(d=day, ordinal=_ordinal(day.day)) for form in DOB_FORMS]


def give_every_identifier(children: list[Child]) -> None:
    """NHS and pupil numbers and carers' addresses, which the demo leaves blank."""
    for n, child in enumerate(children, start=1):
        child.nhs_number = f"943 476 {5900 + n}"
        child.unique_pupil_number = f"H{801200300400 + n}"
        child.save(update_fields=["nhs_number", "unique_pupil_number"])
        child.carers.update(address=f"{n}0 Carer Close, Northshire")


def identifiers(child: Child) -> list[str]:
    """Everything that would tell an adviser who this child is."""
    found_terms = [
        child.first_name,
        child.last_name,
        f"{child.first_name} {child.last_name}",
        child.address,
        child.address.split(",")[0],  # the house and street, without the town
        street(child),
        child.nhs_number,
        child.nhs_number.replace(" ", ""),
        child.nhs_number.replace(" ", "-"),
        child.unique_pupil_number,
        *dates_of_birth(child),
    ]
    for carer in child.carers.all():
        found_terms += [carer.name, *carer.name.split(), carer.address.split(",")[0]]
    return found_terms


def street(child: Child) -> str:
    """The street alone, as in "seen on Demo Street": with the house number, it is an address."""
    return re.sub(r"^\d+\s+", "", child.address.split(",")[0])


def written_about(child: Child) -> str:
    """A paragraph naming the child every way a practitioner might, and their carers."""
    carers = "; ".join(f"{c.name} of {c.address}" for c in child.carers.all())
    digits = child.nhs_number.replace(" ", "")
    return (
        f"{child.first_name} {child.last_name} ({child.first_name.upper()}), born "
        f"{', '.join(dates_of_birth(child))}, of {child.address}. NHS {child.nhs_number} "
        f"({digits}, {child.nhs_number.replace(' ', '-')}), UPN {child.unique_pupil_number}. "
        f"{child.last_name}, {child.first_name} lives with {carers}, and was seen on "
        f"{street(child)} alone. {child.first_name}'s carers say all is well."
    )


@pytest.mark.parametrize("reference", ["OAK-001", "OAK-002", "OAK-003", "RIV-001", "RIV-002"])
def test_the_adviser_sees_none_of_any_childs_identifiers(demo: Demo, reference: str) -> None:
    """A share about each demo child whose every free-text field names that child, every
    other child of the setting and all their carers, every way: none of it reaches the
    adviser, in the question, in the share or on the adviser's pages."""
    case = demo.case(reference)
    setting = case.organisation
    children = list(Child.objects.filter(cases__organisation=setting).order_by("pk"))
    give_every_identifier(children)
    children = list(Child.objects.filter(cases__organisation=setting).order_by("pk"))
    subject = next(child for child in children if child.pk == case.child_id)
    everyone = " ".join(written_about(child) for child in children)
    third_party = "Ms J. Rowe, a neighbour, called Northshire Children's Social Care."
    proposer = demo.user(PROPOSER[setting.name.split()[0]])
    if not case.team.filter(pk=proposer.pk).exists() and proposer.username == "practitioner":
        proposer = demo.user("lead")  # OAK-003 has no practitioner on its team
    adviser = UserFactory(username=f"adviser-{reference.lower()}", first_name="Rhea")
    membership_start(user=adviser, organisation=setting, role=choices.Role.PRACTITIONER)
    share = steps.propose(
        case=case,
        user=proposer,
        fields={
            "purpose": f"Advice about {written_about(subject)}",
            "risk_if_shared": everyone[:4000],
            "risk_if_not_shared": third_party,
            "recipient": Recipient.objects.filter(organisation=setting).first(),
        },
        items=[
            {
                "category": choices.ItemCategory.CONCERN,
                "content": f"{everyone} {third_party}",
                "necessity": written_about(subject),
            }
        ],
    )
    consultation = advice_ask(
        share=share,
        user=proposer,
        adviser=adviser,
        question=f"{written_about(subject)} {third_party} What should I do?"[:4000],
    )

    client = browser(demo, adviser.username)
    answer_page = client.get(url("advice_answer", consultation.pk))
    assert answer_page.status_code == 200
    seen = [
        consultation.question,
        consultation.shared_text,
        page_text(answer_page),
        page_text(client.get(url("advice_asked_of_me"))),
    ]
    for child in children:
        for term in identifiers(child):
            leaked = [text for text in seen if found(term, text)]
            assert not leaked, f"{term!r} of {child} reached the adviser: {leaked[0][:400]}"
    for text in seen[:3]:
        assert not found("Rowe", text)
        assert "Northshire Children's Social Care" in text  # places and agencies stay
    assert "[the child]" in consultation.question
    assert "[the child]" in consultation.shared_text and "[person]" in consultation.shared_text


def test_placeholders_keep_the_text_readable(demo: Demo) -> None:
    share = draft(demo)
    written = (
        "Maisie Thompson (born 14/03/2022) lives at 6 Demo Street with Sam Thompson. "
        "Leo Okafor's mum, Ms J. Rowe and Dr Amir Khan saw it; Maisie told them on "
        "2 June 2025. Northshire Health Visiting Team and Northshire Children's Social Care "
        "know the family."
    )
    assert deidentified_question(share, written) == (
        "[the child] (born [date of birth]) lives at [address] with [carer]. "
        "[another child]'s mum, [person] and [person] saw it; [the child] told them on "
        "[date]. Northshire Health Visiting Team and Northshire Children's Social Care "
        "know the family."
    )


def test_a_title_is_not_taken_for_a_carers_name(demo: Demo) -> None:
    """A carer recorded as "Mrs ..." does not make every "Mrs" a carer: the title pattern
    still finds whoever else is named with it."""
    share = draft(demo)
    share.case.child.carers.create(name="Mrs Jo Thompson", relationship="Grandparent")
    assert deidentified_question(share, "Mrs Jo Thompson and Mrs Ann Rowe came in.") == (
        "[carer] and [person] came in."
    )


def test_an_email_address_made_of_a_name_goes_whole(demo: Demo) -> None:
    assert deidentified_question(draft(demo), "Write to sam.thompson@example.org today.") == (
        "Write to [email] today."
    )


# --- Only the adviser finds the question -----------------------------------------------------


EVERYONE = ("practitioner", "colleague", "lead", "deputy", "manager", "auditor", "otherlead")


def test_only_the_adviser_finds_the_question(demo: Demo) -> None:
    awaiting = asked_of(demo, "colleague")
    path = url("advice_answer", awaiting.pk)
    for username in EVERYONE:
        client = browser(demo, username)
        if username == "colleague":
            assert client.get(path).status_code == 200
            continue
        assert client.get(path).status_code == 404, username
        assert client.post(path, {"advice": "Share it."}).status_code == 404, username
    assert browser(demo, "colleague").get(url("advice_answer", 999_999)).status_code == 404
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    awaiting.refresh_from_db()
    assert not awaiting.is_answered


def test_an_adviser_who_has_left_the_setting_finds_it_no_more(demo: Demo) -> None:
    colleague = demo.user("colleague")
    membership_end(membership=Membership.objects.get(user=colleague, ended_at__isnull=True))
    client = browser(demo, "colleague")
    assert client.get(url("advice_answer", asked_of(demo, "colleague").pk)).status_code == 404
    assert "Awaiting your advice" not in page_text(client.get(url("advice_asked_of_me")))


def test_the_colleague_answers_but_still_cannot_open_the_case_or_the_share(demo: Demo) -> None:
    share = draft(demo)
    client = browser(demo, "colleague")
    assert client.get(url("case_detail", share.case_id)).status_code == 404
    assert client.get(url("share_detail", share.pk)).status_code == 404
    page = client.get(url("advice_answer", asked_of(demo, "colleague").pk))
    assert page.status_code == 200
    body = page.content.decode()
    text = page_text(page)
    for name in ("Maisie", "Thompson", "OAK-001", "Share #", f"#{share.pk}"):
        assert name not in text, name
    assert not re.search(r"/safeguarding/(cases|shares)/\d+/|/share/\d+/", body)  # any mount
    assert "Priya Practitioner" in text  # who asked
    assert "Have you seen a drop in weight like this" in text  # the question


def test_reading_the_question_is_logged_for_the_adviser(demo: Demo) -> None:
    consultation = asked_of(demo, "colleague")
    mark = last_pk()
    assert browser(demo, "colleague").get(url("advice_answer", consultation.pk)).status_code == 200
    entry = AuditEntry.objects.get(pk__gt=mark)
    assert (entry.actor.username, entry.action, entry.object_id) == (
        "colleague",
        AuditAction.VIEW_CONSULTATION,
        consultation.pk,
    )
    assert entry.basis == "asked for advice"


# --- The rules, in the services ---------------------------------------------------------------


def refused_with(error: RuleViolation) -> dict[str, list[str]]:
    return error.message_dict


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        ("not a draft", "__all__", ASK_REFUSED),
        ("not the proposer", "__all__", ASK_REFUSED),
        ("adviser outside the setting", "adviser", NOT_AN_ADVISER),
        ("adviser is the asker", "adviser", NOT_AN_ADVISER),
        ("adviser has left the setting", "adviser", NOT_AN_ADVISER),
        ("no adviser", "adviser", NOT_AN_ADVISER),
        ("blank question", "question", NO_QUESTION),
        ("question too long", "question", "Keep this to 4000 characters or fewer (it has 4001)."),
    ],
)
def test_asking_is_refused(demo: Demo, case: str, field: str, message: str) -> None:
    share, asker, adviser = draft(demo), demo.user("practitioner"), demo.user("deputy")
    question = "Is this proportionate?"
    if case == "not a draft":
        share = Share.objects.get(
            status=choices.ShareStatus.AWAITING_REVIEW, case__reference__startswith="OAK"
        )
    elif case == "not the proposer":
        asker = demo.user("lead")
    elif case == "adviser outside the setting":
        adviser = demo.user("otherlead")
    elif case == "adviser is the asker":
        adviser = asker
    elif case == "adviser has left the setting":
        membership_end(membership=Membership.objects.get(user=adviser, ended_at__isnull=True))
    elif case == "no adviser":
        adviser = None
    elif case == "blank question":
        question = "   "
    elif case == "question too long":
        question = "x" * 4001
    before, mark = Consultation.objects.count(), last_pk()
    with pytest.raises(RuleViolation) as refused:
        advice_ask(share=share, user=asker, adviser=adviser, question=question)
    assert refused_with(refused.value)[field] == [message]
    assert Consultation.objects.count() == before
    assert not AuditEntry.objects.filter(pk__gt=mark).exists()


@pytest.mark.parametrize(
    ("case", "field", "message"),
    [
        (
            "answered already",
            "__all__",
            "This has been answered already; the answer stands as given.",
        ),
        ("someone else", "__all__", "Only the person asked can answer this."),
        ("blank advice", "advice", "Write your advice."),
    ],
)
def test_answering_is_refused(demo: Demo, case: str, field: str, message: str) -> None:
    consultation, user = asked_of(demo, "colleague"), demo.user("colleague")
    if case == "answered already":
        consultation, user = asked_of(demo, "lead"), demo.user("lead")
    elif case == "someone else":
        user = demo.user("lead")
    before = Consultation.objects.values_list("pk", "advice", "answered_at").get(pk=consultation.pk)
    mark = last_pk()
    with pytest.raises(RuleViolation) as refused:
        advice_give(
            consultation=consultation, user=user, advice="" if case == "blank advice" else "No."
        )
    assert refused_with(refused.value)[field] == [message]
    after = Consultation.objects.values_list("pk", "advice", "answered_at").get(pk=consultation.pk)
    assert after == before
    assert not AuditEntry.objects.filter(pk__gt=mark).exists()


def test_each_ask_and_each_answer_is_one_entry_in_the_audit_log(demo: Demo) -> None:
    share, practitioner, deputy = draft(demo), demo.user("practitioner"), demo.user("deputy")
    mark = last_pk()
    asked = advice_ask(share=share, user=practitioner, adviser=deputy, question="Share now?")
    assert logged_since(mark) == [
        ("practitioner", AuditAction.ADVICE_ASKED, "consultation", asked.pk)
    ]
    mark = last_pk()
    advice_give(consultation=asked, user=deputy, advice="Yes, today.")
    assert logged_since(mark) == [("deputy", AuditAction.ADVICE_GIVEN, "consultation", asked.pk)]
    asked.refresh_from_db()
    assert asked.adviser_capacity == choices.AdviserCapacity.LEAD
    assert asked.answered_at is not None


def test_the_data_protection_officer_is_asked_in_that_capacity(demo: Demo) -> None:
    asked = advice_ask(
        share=draft(demo),
        user=demo.user("practitioner"),
        adviser=demo.user("auditor"),
        question="May we rely on legitimate interests here?",
    )
    assert asked.adviser_capacity == choices.AdviserCapacity.DATA_PROTECTION_OFFICER


# --- Asking, through the web ------------------------------------------------------------------


def adviser_options(response: Any) -> dict[str, str]:
    """The adviser list as the page offers it: label -> value."""
    select = re.search(r'<select name="adviser".*?</select>', response.content.decode(), re.S)
    assert select, "no adviser list on the page"
    options = re.findall(r'<option value="(\d+)"[^>]*>(.*?)</option>', select.group(0))
    return {html.unescape(label): value for value, label in options}


def test_the_ask_page_shows_exactly_what_the_adviser_will_see(demo: Demo) -> None:
    share = draft(demo)
    page = browser(demo, "practitioner").get(url("advice_ask", share.pk))
    assert page.status_code == 200
    assert text_of_id(page, "adviser-sees") == " ".join(deidentified_text(share).split())
    assert "Maisie" not in text_of_id(page, "adviser-sees")
    assert set(adviser_options(page)) == {
        "Arun Auditor, Auditor / Data Protection Officer",
        "Colin Colleague, Practitioner",
        "Dan Deputy, Deputy Safeguarding Lead",
        "Grace Lead, Designated Safeguarding Lead",
        "Mona Manager, Manager",
    }


def test_the_question_can_be_checked_before_it_is_sent(demo: Demo) -> None:
    share, client = draft(demo), browser(demo, "practitioner")
    page = client.get(url("advice_ask", share.pk))
    before = Consultation.objects.count()
    checked = client.post(
        url("advice_ask", share.pk),
        form_data(page, question="Should Maisie Thompson's mum be told?", action="preview"),
    )
    assert checked.status_code == 200
    assert text_of_id(checked, "question-preview") == "Should [the child]'s mum be told?"
    assert form_data(checked)["question"] == "Should Maisie Thompson's mum be told?"
    assert Consultation.objects.count() == before


def test_bad_input_comes_back_beside_its_field_and_nothing_is_sent(demo: Demo) -> None:
    share, client = draft(demo), browser(demo, "practitioner")
    page = client.get(url("advice_ask", share.pk))
    before, mark = Consultation.objects.count(), last_pk()

    no_one = client.post(url("advice_ask", share.pk), form_data(page, question="Typed in full."))
    assert no_one.status_code == 400
    assert error_text(no_one, "id_adviser") == NOT_AN_ADVISER
    assert form_data(no_one)["question"] == "Typed in full."
    assert 'aria-invalid="true"' in no_one.content.decode()

    lead = adviser_options(page)["Grace Lead, Designated Safeguarding Lead"]
    no_question = client.post(url("advice_ask", share.pk), form_data(page, adviser=lead))
    assert no_question.status_code == 400
    assert error_text(no_question, "id_question") == NO_QUESTION
    assert form_data(no_question)["adviser"] == lead

    outsider = str(demo.user("otherlead").pk)
    elsewhere = client.post(
        url("advice_ask", share.pk), form_data(page, adviser=outsider, question="Share?")
    )
    assert elsewhere.status_code == 400
    assert error_text(elsewhere, "id_adviser")
    assert Consultation.objects.count() == before
    assert not AuditEntry.objects.filter(pk__gt=mark).exclude(action__startswith="view_").exists()


def test_asking_sends_the_question_and_the_share_lists_it(demo: Demo) -> None:
    share, client = draft(demo), browser(demo, "practitioner")
    page = client.get(url("share_detail", share.pk))
    assert url("advice_ask", share.pk) in page.content.decode()
    ask = client.get(url("advice_ask", share.pk))
    deputy = adviser_options(ask)["Dan Deputy, Deputy Safeguarding Lead"]
    sent = client.post(
        url("advice_ask", share.pk),
        form_data(ask, adviser=deputy, question="Does Maisie's case meet the threshold?"),
    )
    assert sent.status_code == 302 and sent["Location"] == url("share_detail", share.pk)
    asked = Consultation.objects.get(adviser=demo.user("deputy"))
    assert asked.question == "Does [the child]'s case meet the threshold?"
    assert asked.shared_text == deidentified_text(share)

    shown = page_text(client.get(url("share_detail", share.pk)))
    section = shown[shown.index("Advice sought") :]
    assert "Grace Lead (The Designated Safeguarding Lead or a deputy)" in section
    assert "Tell the parent first and ask for consent" in section
    assert "Colin Colleague (A colleague)" in section
    assert "Dan Deputy (The Designated Safeguarding Lead or a deputy)" in section
    assert "Does [the child]'s case meet the threshold?" in section
    assert section.count("Awaiting an answer.") == 2


def test_the_share_page_logs_the_advice_it_shows(demo: Demo) -> None:
    share = draft(demo)
    mark = last_pk()
    assert browser(demo, "lead").get(url("share_detail", share.pk)).status_code == 200
    [viewed] = AuditEntry.objects.filter(pk__gt=mark, action=AuditAction.VIEW_SHARE)
    shown = [pk for kind, pk in records_shown(viewed) if kind == "consultation"]
    assert sorted(shown) == sorted(share.consultations.values_list("pk", flat=True))
    assert shown


def test_only_the_proposer_of_a_draft_may_ask(demo: Demo) -> None:
    share = draft(demo)
    lead_page = browser(demo, "lead").get(url("share_detail", share.pk))
    assert url("advice_ask", share.pk) not in lead_page.content.decode()
    assert browser(demo, "lead").get(url("advice_ask", share.pk)).status_code == 403
    assert browser(demo, "colleague").get(url("advice_ask", share.pk)).status_code == 404
    submitted = Share.objects.get(
        status=choices.ShareStatus.AWAITING_REVIEW, case__reference__startswith="OAK"
    )
    moved_on = browser(demo, "practitioner").get(url("advice_ask", submitted.pk))
    assert moved_on.status_code == 302
    assert moved_on["Location"] == url("share_detail", submitted.pk)


# --- Answering, through the web ---------------------------------------------------------------


def test_the_adviser_answers_once_and_the_answer_then_stands(demo: Demo) -> None:
    consultation, client = asked_of(demo, "colleague"), browser(demo, "colleague")
    path = url("advice_answer", consultation.pk)
    menu = page_text(client.get(url("advice_asked_of_me")))
    assert "Advice asked of me (1 awaiting)" in menu
    assert "Awaiting your advice" in menu

    blank = client.post(path, {"advice": "  "})
    assert blank.status_code == 400
    assert error_text(blank, "id_advice") == "Write your advice."

    mark = last_pk()
    answered = client.post(path, {"advice": "Weigh again next week before you share."})
    assert answered.status_code == 302 and answered["Location"] == path
    assert logged_since(mark) == [
        ("colleague", AuditAction.ADVICE_GIVEN, "consultation", consultation.pk)
    ]

    shown = client.get(path)
    assert 'name="advice"' not in shown.content.decode()
    assert text_of_id(shown, "advice") == "Weigh again next week before you share."
    again = client.post(path, {"advice": "Actually, share it now."})
    assert again.status_code == 400
    assert "the answer stands as given" in page_text(again)
    consultation.refresh_from_db()
    assert consultation.advice == "Weigh again next week before you share."
    listed = page_text(client.get(url("advice_asked_of_me")))
    assert "(1 awaiting)" not in listed and "Awaiting your advice" not in listed

    share_page = page_text(browser(demo, "practitioner").get(url("share_detail", draft(demo).pk)))
    assert "Weigh again next week before you share." in share_page
    assert share_page.count("Awaiting an answer.") == 0


def test_an_adviser_with_nothing_asked_is_told_so(demo: Demo) -> None:
    page = browser(demo, "manager").get(url("advice_asked_of_me"))
    assert page.status_code == 200
    assert "Nobody has asked for your advice." in page_text(page)
    assert "awaiting)" not in page_text(page)
