"""Two people acting at once, on the real PostgreSQL: whoever loses is told what happened,
as they would be one after the other, and never gets a 500.

Each race runs ROUNDS times. In each round the requests are prepared first (pages opened,
forms filled), then released together by a threading.Barrier, each thread with its own
Django test Client and so its own database connection, closed when the thread ends.

- a lead and a deputy decide one share at once: one decision, the other told it is
  already decided;
- the proposer and the lead record the release at once: one release;
- someone opens the share page while the lead decides: the page shows, the decision stands;
- the proposer saves one draft from two tabs at once: one "Draft saved", the other refused
  with both versions shown; every save that said "saved" is what the database holds;
- break glass submitted twice at once: one grant, one audit entry.

On SQLite (the in-memory test database threads cannot share) these skip.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from celery._state import _set_task_join_will_block
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import choices
from cases.models import Case, Decision, Membership, Release, Share
from cases.services import case_team_add
from cases.services.deliveries import link_state
from cases.services.shares import draft_version
from cases.services.transfers import transfer_send, transfer_send_outside
from permissions.links import link_token
from permissions.models import AuditAction, AuditEntry, BreakGlassGrant
from workflows import steps
from workflows.flows import ShareFlow
from workflows.locking import waiting_lock

from .factories import CaseFactory, RecipientFactory, complete_fields, item
from .http_helpers import form_data, page_text, url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROUNDS = 20


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("threads need a database they can all open: PostgreSQL")


def client_for(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; return each one's result in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as error:  # the test reports it; a thread must not swallow it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    # Eager tasks run in two threads at once can leave Celery's process-wide "a join would
    # block" flag set (each restores the value it found, which may be the other's), and a
    # later test's ``.get()`` in this process would then be refused.
    _set_task_join_will_block(False)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def statuses(responses: list[Any]) -> list[int]:
    return [response.status_code for response in responses]


def new_submitted(case: Case, proposer: Any, recipient: Any) -> Share:
    share = steps.propose(
        case=case, user=proposer, fields=complete_fields(recipient), items=[item()]
    )
    return steps.submit(share=share, user=proposer)


def approve(share: Share, lead: Any) -> Share:
    steps.decide(share=share, user=lead, outcome=choices.Outcome.APPROVE, reasons="Necessary.")
    share.refresh_from_db()
    return share


def test_lead_and_deputy_decide_at_once(
    case: Case, practitioner: Any, lead: Any, deputy: Any, recipient: Any
) -> None:
    seen: Counter[int] = Counter()
    for _ in range(ROUNDS):
        share = new_submitted(case, practitioner, recipient)
        data = {"outcome": choices.Outcome.APPROVE, "reasons": "Necessary and proportionate."}
        posts = [client_for(person) for person in (lead, deputy)]
        responses = race(*(partial(c.post, url("lead_review", share.pk), data) for c in posts))
        seen.update(statuses(responses))
        # Both are taken to the share; the later is told who decided and that nothing of
        # theirs was recorded (what one after the other would be told).
        assert statuses(responses) == [302, 302], statuses(responses)
        assert Decision.objects.filter(share=share).count() == 1
        shown = [page_text(c.get(url("share_detail", share.pk))) for c in posts]
        assert sum("Nothing was recorded" in text for text in shown) == 1
    assert seen == {302: 2 * ROUNDS}


def test_proposer_and_lead_record_the_release_at_once(
    case: Case, practitioner: Any, lead: Any, recipient: Any
) -> None:
    for _ in range(ROUNDS):
        share = approve(new_submitted(case, practitioner, recipient), lead)
        data = {"sent_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "note": "Sent."}
        posts = [client_for(person) for person in (practitioner, lead)]
        responses = race(*(partial(c.post, url("record_release", share.pk), data) for c in posts))
        assert sorted(statuses(responses)) == [302, 400], statuses(responses)
        # The loser is told what one after the other would tell them.
        loser = next(r for r in responses if r.status_code == 400)
        assert "only an approved share can be released" in page_text(loser)
        assert Release.objects.filter(share=share).count() == 1


def test_the_share_page_opens_while_the_lead_decides(
    case: Case, practitioner: Any, lead: Any, recipient: Any
) -> None:
    for _ in range(ROUNDS):
        share = new_submitted(case, practitioner, recipient)
        data = {"outcome": choices.Outcome.APPROVE, "reasons": "Necessary and proportionate."}
        deciding, reading = client_for(lead), client_for(practitioner)
        responses = race(
            partial(deciding.post, url("lead_review", share.pk), data),
            partial(reading.get, url("share_detail", share.pk)),
            partial(reading.get, url("share_detail", share.pk)),
        )
        assert statuses(responses) == [302, 200, 200]
        assert Decision.objects.filter(share=share).count() == 1


def test_the_proposer_saves_one_draft_from_two_tabs_at_once(
    case: Case, practitioner: Any, recipient: Any
) -> None:
    refused = 0
    share = steps.propose(
        case=case, user=practitioner, fields=complete_fields(recipient), items=[item()]
    )
    tabs = [client_for(practitioner), client_for(practitioner)]
    page = form_data(tabs[0].get(url("share_edit", share.pk)), action="save")
    for round_ in range(ROUNDS):
        # Both tabs opened at the draft as it is now (what each page's form would carry).
        share.refresh_from_db()
        typed = [f"Round {round_}, typed in tab {n}." for n in (1, 2)]
        posts = [
            {**page, "purpose": purpose, "draft_version": draft_version(share)} for purpose in typed
        ]
        edit = url("share_edit", share.pk)
        responses = race(
            *(partial(tab.post, edit, data) for tab, data in zip(tabs, posts, strict=True))
        )
        assert sorted(statuses(responses)) == [302, 400], statuses(responses)
        share.refresh_from_db()
        for response, purpose in zip(responses, typed, strict=True):
            if response.status_code == 302:
                assert share.purpose == purpose  # "Draft saved" and kept
            else:
                text = page_text(response)
                assert "after you opened it" in text and "nothing was overwritten" in text
                assert purpose in response.content.decode()  # what was typed is still there
                refused += 1
    assert refused == ROUNDS


def test_break_glass_taken_twice_at_once(oakfield: Any, colleague: Any, practitioner: Any) -> None:
    for round_ in range(ROUNDS):
        case: Case = CaseFactory(organisation=oakfield, reference=f"RACE-{round_:03d}")
        case_team_add(case=case, user=practitioner)
        data = {"reference": case.reference, "reason": "Covering the duty desk.", "hours": "2"}
        posts = [client_for(colleague), client_for(colleague)]
        responses = race(*(partial(c.post, url("break_glass"), data) for c in posts))
        assert statuses(responses) == [302, 302]
        assert BreakGlassGrant.objects.filter(user=colleague, case=case).count() == 1
        logged = AuditEntry.objects.filter(case=case, action=AuditAction.BREAK_GLASS)
        assert logged.count() == 1


def test_a_step_that_cannot_get_the_lock_in_time_is_told_so_not_a_500(
    case: Case, practitioner: Any, lead: Any, recipient: Any, monkeypatch: Any
) -> None:
    """Someone else's step holds the share's flow lock for longer than the wait allows:
    the lead is told nothing was saved, and nothing was."""
    share = new_submitted(case, practitioner, recipient)
    process_pk = share.process.pk
    monkeypatch.setattr(waiting_lock, "seconds", 0.5)
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with ShareFlow.lock(process_pk):
                held.set()
                done.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout=30)
        data = {"outcome": choices.Outcome.APPROVE, "reasons": "Necessary and proportionate."}
        response = client_for(lead).post(url("lead_review", share.pk), data)
    finally:
        done.set()
        holder.join(timeout=30)
    assert response.status_code == 400
    assert "Someone else is working on this share at this moment" in page_text(response)
    assert not Decision.objects.filter(share=share).exists()


def _sent_by_link(case: Case, practitioner: Any, lead: Any, recipient: Any) -> Any:
    recipient.secure_email = "duty@social-care.example.org"
    recipient.secure_email_verified_at = timezone.now()
    recipient.save()
    share = approve(new_submitted(case, practitioner, recipient), lead)
    return steps.send_securely(share=share, user=practitioner)


def test_wrong_codes_sent_at_once_lock_the_link_at_exactly_five(
    case: Case, practitioner: Any, lead: Any, recipient: Any
) -> None:
    """Seven guesses from seven browsers at once: five are counted, the fifth locks the link,
    and the rest find it locked. None slips past the limit together with another."""
    sent = _sent_by_link(case, practitioner, lead, recipient)
    link = reverse("secure_link_received", kwargs={"token": link_token(sent.delivery)})
    wrong = "00000000" if sent.code != "00000000" else "11111111"
    guessers = [Client(raise_request_exception=False) for _ in range(7)]
    responses = race(*(partial(g.post, link, {"name": "G", "code": wrong}) for g in guessers))
    assert sorted(statuses(responses)) == [400] * 4 + [404] * 3, statuses(responses)
    kinds = [event.kind for event in link_state(sent.delivery).events]
    assert kinds.count("wrong_code") == 5 and kinds.count("locked") == 1
    opened = Client().post(link, {"name": "Sam", "code": sent.code})
    assert opened.status_code == 404


def test_two_recipients_acknowledge_at_once_and_one_acknowledgement_is_kept(
    case: Case, practitioner: Any, lead: Any, recipient: Any
) -> None:
    sent = _sent_by_link(case, practitioner, lead, recipient)
    token = link_token(sent.delivery)
    readers = [Client(raise_request_exception=False) for _ in range(2)]
    for reader in readers:
        opened = reader.post(
            reverse("secure_link_received", kwargs={"token": token}),
            {"name": "Sam", "code": sent.code},
        )
        assert opened.status_code == 302
    acknowledge = reverse("secure_link_acknowledge", kwargs={"token": token})
    data = {"name": "Sam Carter", "confirmed": "on"}
    responses = race(*(partial(r.post, acknowledge, data) for r in readers))
    assert statuses(responses) == [302, 302]
    kinds = [event.kind for event in link_state(sent.delivery).events]
    assert kinds.count("acknowledged") == 1


def test_a_file_withdrawn_while_its_recipient_confirms_receipt_ends_one_way(
    case: Case, lead: Any, oakfield: Any
) -> None:
    """The sender withdraws a file sent outside as its recipient confirms receipt, over and
    over: neither waits on the other for ever (the link's lock is taken first by both), no
    page answers 500, and the file ends either received or withdrawn, never both."""
    school = RecipientFactory(
        organisation=oakfield,
        agency_kind="school",
        secure_email="dsl@hilltop.example.org",
        secure_email_verified_at=timezone.now(),
    )
    ends: Counter[str] = Counter()
    for _ in range(ROUNDS // 4):
        sent = transfer_send_outside(
            child=case.child,
            to_outside=school,
            starts_on=timezone.localdate(),
            note="",
            file={"title": "File", "sections": []},
            user=lead,
        )
        assert sent.link is not None
        token = link_token(sent.link.delivery)
        reader = Client(raise_request_exception=False)
        opened = reader.post(
            reverse("secure_link_received", kwargs={"token": token}),
            {"name": "Jo", "code": sent.link.code},
        )
        assert opened.status_code == 302
        page = reverse("safeguarding:child_file", args=[sent.transfer.pk])
        responses = race(
            partial(
                reader.post,
                reverse("secure_link_acknowledge", kwargs={"token": token}),
                {"name": "Jo Bright", "confirmed": "on"},
            ),
            partial(
                client_for(lead).post, page, {"action": "withdraw", "withdraw_reason": "Wrong."}
            ),
        )
        assert all(code < 500 for code in statuses(responses)), statuses(responses)
        sent.transfer.refresh_from_db()
        kinds = [event.kind for event in sent.transfer.events.all()]
        assert not ("received" in kinds and "withdrawn" in kinds)
        ends[sent.transfer.status] += 1
    assert set(ends) <= {"received", "withdrawn"}, ends


def test_the_recipient_opens_a_files_link_as_its_sender_reads_the_file(
    case: Case, lead: Any, oakfield: Any
) -> None:
    """The sender reloads the file's page (the file, then the chain) as the recipient opens
    the link (the link, the file, then the chain): one waits, neither fails."""
    school = RecipientFactory(
        organisation=oakfield,
        agency_kind="school",
        secure_email="dsl@hilltop.example.org",
        secure_email_verified_at=timezone.now(),
    )
    sent = transfer_send_outside(
        child=case.child,
        to_outside=school,
        starts_on=timezone.localdate(),
        note="",
        file={"title": "File", "sections": []},
        user=lead,
    )
    assert sent.link is not None
    received = reverse("secure_link_received", kwargs={"token": link_token(sent.link.delivery)})
    page = reverse("safeguarding:child_file", args=[sent.transfer.pk])
    sender = client_for(lead)
    for _ in range(ROUNDS // 2):
        reader = Client(raise_request_exception=False)
        responses = race(
            partial(reader.post, received, {"name": "Jo", "code": sent.link.code}),
            partial(sender.get, page),
        )
        assert statuses(responses) == [302, 200]


def test_a_file_withdrawn_as_another_is_accepted_between_the_same_two_settings(
    case: Case, lead: Any, other_lead: Any
) -> None:
    """Oakfield withdraws one file to Riverside as Riverside accepts another from Oakfield:
    each act is written in both settings' chains, locked in one order, so neither fails."""
    to = Membership.objects.get(user=other_lead, ended_at__isnull=True)
    for _ in range(ROUNDS):
        files = [
            transfer_send(
                child=CaseFactory(organisation=case.organisation).child,
                to=to,
                starts_on=timezone.localdate(),
                note="",
                file={"title": "File", "sections": []},
                user=lead,
            )
            for _ in range(2)
        ]
        responses = race(
            partial(
                client_for(other_lead).post,
                reverse("safeguarding:child_file", args=[files[0].pk]),
                {"action": "accept"},
            ),
            partial(
                client_for(lead).post,
                reverse("safeguarding:child_file", args=[files[1].pk]),
                {"action": "withdraw", "withdraw_reason": "Wrong school."},
            ),
        )
        assert statuses(responses) == [302, 302]
