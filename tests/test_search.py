"""Search: a child or case found by name, preferred name, full name, UPN or case reference,
only within what the person may see; every search in the audit log; a bounded, flat cost."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from cases.choices import Role
from cases.identifiers import upn_check_letter
from cases.models import Case, Child, Organisation
from cases.services import case_team_add
from permissions.models import AuditAction, AuditEntry
from permissions.search import MAX_RESULTS, search_for

from .factories import CaseFactory, ChildFactory, MembershipFactory
from .http_helpers import error_text, page_text

UPN_DIGITS = "801200001001"
UPN = upn_check_letter(UPN_DIGITS) + UPN_DIGITS


@pytest.fixture
def maisie(oakfield: Organisation, practitioner: Any) -> Case:
    """Maisie Thompson, known as Mae, on the practitioner's case team."""
    case = CaseFactory(
        organisation=oakfield,
        reference="OAK-001",
        child__first_name="Maisie",
        child__last_name="Thompson",
        child__known_as="Mae",
        child__unique_pupil_number=UPN,
        child__year_group="Toddlers",
    )
    case_team_add(case=case, user=practitioner)
    return case


@pytest.fixture
def ava(oakfield: Organisation) -> Case:
    """A case of the practitioner's setting whose team they are not on."""
    return CaseFactory(
        organisation=oakfield,
        reference="OAK-003",
        child__first_name="Ava",
        child__last_name="Patel",
    )


@pytest.fixture
def ruby(oakfield: Organisation) -> Child:
    """A child on Oakfield's roll with no case."""
    return ChildFactory(organisation=oakfield, first_name="Ruby", last_name="Clarke-Jones")


def browser(user: Any) -> Client:
    client = Client()
    client.raise_request_exception = True
    client.force_login(user)
    return client


def search_page(user: Any, q: str) -> Any:
    response = browser(user).get(reverse("safeguarding:search"), {"q": q})
    assert response.status_code == 200
    return response


def references(result: Any) -> list[str]:
    return [case.reference for case in result.cases]


@pytest.mark.parametrize(
    "text",
    [
        "maisie",  # legal first name, any case
        "THOMPSON",  # legal last name
        "Mae",  # preferred name
        "Maisie Thompson",  # full name
        "thompson maisie",  # the other way round
        "Thompson, Maisie",  # as a register prints it
        "Mae Thom",  # preferred name and the start of the last name
        f"{UPN[:4]} {UPN[4:8]} {UPN[8:]}".lower(),  # UPN with spaces, in lower case
        f"{UPN[:5]}-{UPN[5:]}",  # and with a hyphen
        "oak-001",  # case reference
        "OAK-00",  # the start of one
    ],
)
def test_a_lead_finds_a_case_by_what_is_typed(lead: Any, maisie: Case, ava: Case, text: str):
    result = search_for(lead, text)

    assert "OAK-001" in references(result)
    assert result.children_without_case == []


def test_a_name_is_matched_from_the_start_of_its_words(lead: Any, maisie: Case, ruby: Child):
    assert search_for(lead, "Jones").children_without_case == [ruby]  # "Clarke-Jones"
    assert references(search_for(lead, "ais")) == []  # inside "Maisie": not a name typed


def test_the_results_page_shows_the_child_and_links_the_case(lead: Any, maisie: Case):
    response = search_page(lead, "Maisie Thompson")

    text = page_text(response)
    assert "Maisie Thompson (Mae)" in text
    assert "Toddlers" in text
    assert UPN in text
    assert "Open" in text
    assert reverse("safeguarding:case_detail", args=[maisie.pk]) in response.content.decode()


def test_a_lead_finds_a_closed_case_and_is_told_it_is_closed(lead: Any, maisie: Case):
    Case.objects.filter(pk=maisie.pk).update(closed_at=timezone.now())

    assert "Closed" in page_text(search_page(lead, "Maisie"))


def test_a_practitioner_finds_only_their_own_cases(practitioner: Any, maisie: Case, ava: Case):
    assert references(search_for(practitioner, "Maisie")) == ["OAK-001"]
    assert references(search_for(practitioner, "OAK-00")) == ["OAK-001"]
    assert references(search_for(practitioner, "Ava Patel")) == []

    response = search_page(practitioner, "Patel")
    assert "Patel" not in page_text(response).replace("“Patel”", "")
    assert "Ava" not in page_text(response)
    assert reverse("safeguarding:case_detail", args=[ava.pk]) not in response.content.decode()


def test_a_practitioner_does_not_find_a_roll_child_with_no_case(practitioner: Any, ruby: Child):
    result = search_for(practitioner, "Ruby")

    assert result.cases == [] and result.children_without_case == []


def test_another_settings_lead_finds_nothing_of_oakfield(
    other_lead: Any, maisie: Case, ava: Case, ruby: Child
):
    for text in ("Maisie", "Mae", "Ava Patel", "Ruby", "OAK", UPN):
        result = search_for(other_lead, text)
        assert result.cases == [] and result.children_without_case == [], text
    assert "Maisie" not in page_text(search_page(other_lead, "Maisie")).replace("“Maisie”", "")


def test_a_lead_finds_a_roll_child_with_no_case(lead: Any, maisie: Case, ruby: Child):
    result = search_for(lead, "ruby clarke")

    assert result.cases == []
    assert result.children_without_case == [ruby]
    text = page_text(search_page(lead, "Ruby"))
    assert "On your roll, with no case" in text
    assert "Ruby Clarke-Jones" in text


def test_a_roll_child_links_to_their_page_on_the_register(lead: Any, ruby: Child):
    content = search_page(lead, "Ruby").content.decode()

    try:
        child_page = reverse("safeguarding:child_detail", kwargs={"child_pk": ruby.pk})
    except NoReverseMatch:  # a project without the register pages: listed, not linked
        assert "Ruby Clarke-Jones" in page_text(search_page(lead, "Ruby"))
    else:
        assert f'href="{child_page}"' in content


def test_a_child_with_a_case_is_listed_once_by_the_case(lead: Any, maisie: Case):
    result = search_for(lead, "Maisie")

    assert references(result) == ["OAK-001"]
    assert result.children_without_case == []


def test_the_search_is_in_the_audit_log_with_its_text(
    lead: Any, oakfield: Organisation, maisie: Case, ava: Case
):
    search_page(lead, "  Maisie   Thompson ")

    [entry] = AuditEntry.objects.filter(action=AuditAction.SEARCHED)
    assert entry.actor == lead
    assert entry.organisation == oakfield
    assert entry.basis == "lead"
    assert entry.detail == '"Maisie Thompson": 1 result'
    # The results are not logged as views, as the case list's are not: opening a case is.
    assert not AuditEntry.objects.filter(action=AuditAction.VIEW_CASE).exists()


def test_the_logged_text_is_trimmed(lead: Any, oakfield: Organisation):
    search_for(lead, "x" * 500)

    [entry] = AuditEntry.objects.filter(action=AuditAction.SEARCHED)
    assert entry.detail == f'"{"x" * 100}": 0 results'


def test_a_search_finding_nothing_is_logged_too(practitioner: Any, ava: Case):
    search_for(practitioner, "Patel")

    [entry] = AuditEntry.objects.filter(action=AuditAction.SEARCHED)
    assert (entry.actor, entry.basis, entry.detail) == (
        practitioner,
        "practitioner",
        '"Patel": 0 results',
    )


def test_a_childs_name_searched_stays_out_of_another_settings_log(
    colleague: Any, oakfield: Organisation, riverside: Organisation, maisie: Case
):
    """Someone working in two settings: the one where nothing was found learns only that a
    search found nothing there, never the name typed."""
    MembershipFactory(user=colleague, organisation=riverside, role=Role.PRACTITIONER)
    search_for(colleague, "Maisie Thompson")

    logged = dict(
        AuditEntry.objects.filter(action=AuditAction.SEARCHED).values_list(
            "organisation__name", "detail"
        )
    )
    assert logged == {"Oakfield": "a search: 0 results", "Riverside": "a search: 0 results"}

    case_team_add(case=maisie, user=colleague)
    search_for(colleague, "Maisie Thompson")
    latest = AuditEntry.objects.filter(action=AuditAction.SEARCHED).order_by("-pk")[:2]
    assert {e.organisation.name: e.detail for e in latest} == {
        "Oakfield": '"Maisie Thompson": 1 result',
        "Riverside": "a search: 0 results",
    }


def test_one_character_is_too_short_and_searches_nothing(lead: Any, maisie: Case):
    response = search_page(lead, "M")

    assert "Type at least 2 characters" in error_text(response, "id_q")
    assert "Maisie" not in page_text(response)
    assert not AuditEntry.objects.filter(action=AuditAction.SEARCHED).exists()


def test_the_empty_page_searches_nothing(lead: Any, maisie: Case):
    response = search_page(lead, "")

    assert "Maisie" not in page_text(response)
    assert not AuditEntry.objects.filter(action=AuditAction.SEARCHED).exists()


@pytest.mark.parametrize(
    "q",
    [
        "a" * 20_000,
        "Mai\x00sie",
        "\x00",
        "%_\\'\"<script>",
        "Zoë 🙂 ;--",
        "\u200b\u200bMaisie",
        "\ufeff",
        ", , ,",
        "Maisie " * 50,
    ],
)
def test_bad_input_never_breaks_the_page(lead: Any, maisie: Case, q: str):
    response = browser(lead).get(reverse("safeguarding:search"), {"q": q})

    assert response.status_code == 200


def test_the_text_searched_is_shown_escaped(lead: Any):
    content = search_page(lead, "<b>Maisie</b>").content.decode()

    assert "&lt;b&gt;Maisie&lt;/b&gt;" in content
    assert "<b>Maisie</b>" not in content


def test_like_wildcards_and_separators_alone_find_nothing(lead: Any, maisie: Case):
    for text in ("%%", "__", ", , ,", "\\\\"):
        assert search_for(lead, text).cases == [], text


def test_a_name_with_an_apostrophe(lead: Any, oakfield: Organisation):
    case = CaseFactory(
        organisation=oakfield, child__first_name="Siobhan", child__last_name="O'Brien"
    )

    assert search_for(lead, "siobhan o'brien").cases == [case]
    assert search_for(lead, "Brien").cases == [case]


def test_at_most_fifty_results_with_a_note_to_narrow(lead: Any, oakfield: Organisation):
    for n in range(MAX_RESULTS + 5):
        CaseFactory(organisation=oakfield, child__last_name="Smith", reference=f"OAK-{n:03d}")

    result = search_for(lead, "Smith")

    assert len(result.cases) == MAX_RESULTS
    assert result.more_than_shown
    assert "Narrow your search" in page_text(search_page(lead, "Smith"))


def _queries_for(user: Any, text: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        search_for(user, text)
    return len(queries)


@pytest.mark.parametrize("persona", ["lead", "practitioner"])
def test_the_query_count_is_the_same_for_3_or_60_results(
    persona: str, request: Any, oakfield: Organisation, practitioner: Any
):
    user = request.getfixturevalue(persona)

    def smiths(count: int) -> None:
        for _ in range(count):
            case = CaseFactory(organisation=oakfield, child__last_name="Smith")
            case_team_add(case=case, user=practitioner)
            ChildFactory(organisation=oakfield, last_name="Smith")  # on the roll, no case

    smiths(3)
    search_for(user, "Smith")  # warm caches (content types) before counting
    few = _queries_for(user, "Smith")
    smiths(57)
    # Adding to case teams changed access: read it again before counting, as the first
    # count was made with it already read.
    search_for(user, "Smith")
    many = _queries_for(user, "Smith")

    assert many == few
    assert len(search_for(user, "Smith").cases) == MAX_RESULTS


def test_the_page_costs_the_same_for_3_or_60_results(
    lead: Any, oakfield: Organisation, django_assert_max_num_queries: Any
):
    for _ in range(3):
        CaseFactory(organisation=oakfield, child__last_name="Smith")
    client = browser(lead)
    client.get(reverse("safeguarding:search"), {"q": "Smith"})  # the session's first write
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("safeguarding:search"), {"q": "Smith"})
    for _ in range(57):
        CaseFactory(organisation=oakfield, child__last_name="Smith")

    with django_assert_max_num_queries(len(few)):
        response = client.get(reverse("safeguarding:search"), {"q": "Smith"})
    assert response.status_code == 200


def test_the_menu_links_the_search_for_everyone(practitioner: Any, manager: Any):
    for user in (practitioner, manager):
        response = browser(user).get(reverse("safeguarding:index"))
        assert reverse("safeguarding:search") in response.content.decode()


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("O\u2019Brien", "O'Brien"),  # Excel's curly apostrophe, typed straight
        ("O'Brien", "o\u2019brien"),  # and the other way round
        ("O\u2019Brien", "Lily O'Bri"),  # the start of it, with a first name
        ("D\u2019Souza", "souza"),  # a word starting after a curly apostrophe
    ],
)
def test_a_name_is_found_whichever_apostrophe_it_is_typed_with(
    lead: Any, oakfield: Organisation, stored: str, typed: str
):
    child = ChildFactory(organisation=oakfield, first_name="Lily", last_name=stored)

    assert search_for(lead, typed).children_without_case == [child]


@pytest.mark.parametrize("typed", ["OAK 001", "oak001", "Oak - 001", "oak 0 01", "OAK001"])
def test_a_reference_is_found_whatever_its_spaces_hyphens_and_case(
    lead: Any, practitioner: Any, maisie: Case, ava: Case, typed: str
):
    assert references(search_for(lead, typed)) == ["OAK-001"]
    assert references(search_for(practitioner, typed)) == ["OAK-001"]


def test_a_search_of_only_hyphens_and_spaces_finds_no_reference(lead: Any, maisie: Case):
    assert references(search_for(lead, "- -")) == []
