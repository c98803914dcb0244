"""Personas, as in DESIGN.md.

In the setting "Oakfield": Priya the practitioner is on the case team, Colin is a
practitioner who is not, Grace is the lead, Dan the deputy, Mona the manager and Arun the
auditor. Olu is the lead of another setting, "Riverside", and must never see Oakfield's
records.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import get_resolver

from cases import choices
from cases.models import Case, Organisation, Recipient, Share
from cases.services import case_team_add
from workflows import steps

from .factories import (
    CaseFactory,
    MembershipFactory,
    OrganisationFactory,
    RecipientFactory,
    UserFactory,
    complete_fields,
    item,
)
from .scheduling import LoadFileBrowserTestsTogether, order_slowest_first

# viewflow reverses its node URLs only once the URLconf (the site's or a host's) is loaded.
_ = get_resolver().url_patterns


@pytest.fixture
def oakfield(db: Any) -> Organisation:
    return OrganisationFactory(name="Oakfield", kind=choices.OrganisationKind.NURSERY)


@pytest.fixture
def riverside(db: Any) -> Organisation:
    return OrganisationFactory(
        name="Riverside", kind=choices.OrganisationKind.SCHOOL, is_public_authority=True
    )


def _member(username: str, organisation: Organisation, role: str) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(user=user, organisation=organisation, role=role)
    return user


@pytest.fixture
def practitioner(oakfield: Organisation) -> Any:
    return _member("priya", oakfield, choices.Role.PRACTITIONER)


@pytest.fixture
def colleague(oakfield: Organisation) -> Any:
    return _member("colin", oakfield, choices.Role.PRACTITIONER)


@pytest.fixture
def lead(oakfield: Organisation) -> Any:
    return _member("grace", oakfield, choices.Role.LEAD)


@pytest.fixture
def deputy(oakfield: Organisation) -> Any:
    return _member("dan", oakfield, choices.Role.DEPUTY)


@pytest.fixture
def manager(oakfield: Organisation) -> Any:
    return _member("mona", oakfield, choices.Role.MANAGER)


@pytest.fixture
def auditor(oakfield: Organisation) -> Any:
    return _member("arun", oakfield, choices.Role.AUDITOR)


@pytest.fixture
def other_lead(riverside: Organisation) -> Any:
    return _member("olu", riverside, choices.Role.LEAD)


@pytest.fixture
def case(oakfield: Organisation, practitioner: Any) -> Case:
    case = CaseFactory(organisation=oakfield, child__first_name="Maisie")
    case_team_add(case=case, user=practitioner)
    return case


@pytest.fixture
def recipient(oakfield: Organisation) -> Recipient:
    return RecipientFactory(organisation=oakfield)


@pytest.fixture
def draft(case: Case, practitioner: Any, recipient: Recipient) -> Share:
    """A complete draft, ready to submit."""
    return steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )


@pytest.fixture
def submitted(draft: Share, practitioner: Any) -> Share:
    return steps.submit(share=draft, user=practitioner)


@pytest.fixture
def approved(submitted: Share, lead: Any) -> Share:
    steps.decide(share=submitted, user=lead, outcome=choices.Outcome.APPROVE, reasons="Necessary.")
    submitted.refresh_from_db()
    return submitted


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Figures a test recorded with record_property, printed once whatever process ran it
    (pytest-xdist hides a worker's own output): the fuzzer's count of generated posts."""
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "generated_posts":
                terminalreporter.write_line(f"property-based form test: {value} generated posts")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order_slowest_first(items)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with the browser tests kept together (tests/scheduling.py)."""
    if config.getoption("dist") == "loadfile":
        return LoadFileBrowserTestsTogether(config, log)
    return None
