"""Decisions, the items they approved and releases are permanent: never updated, never deleted."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from cases import choices
from cases.models import ApprovedItem, Decision, Release, Share
from cases.models.immutable import ImmutableRecordError
from workflows import steps

C = choices


@pytest.fixture
def released(approved: Share, practitioner: Any) -> Share:
    steps.record_release(
        share=approved, user=practitioner, sent_at=timezone.now(), note="Sent by secure email."
    )
    return approved


@pytest.fixture
def decision(released: Share) -> Decision:
    return Decision.objects.get(share=released)


@pytest.fixture
def approved_item(decision: Decision) -> ApprovedItem:
    return ApprovedItem.objects.get(decision=decision)


@pytest.fixture
def release(released: Share) -> Release:
    return Release.objects.get(share=released)


RECORDS = ["decision", "approved_item", "release"]
# A field of each record to try to change, and the value to try.
CHANGES = {
    "decision": ("reasons", "Rewritten after the event."),
    "approved_item": ("item_id", None),  # filled in per test: another item
    "release": ("note", "Rewritten after the event."),
}


def snapshot(instance: Any) -> dict[str, Any]:
    fresh = type(instance).objects.get(pk=instance.pk)
    data = model_to_dict(fresh)
    data.update({f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields})
    return data


def change_for(name: str, instance: Any) -> tuple[str, Any]:
    field, value = CHANGES[name]
    if name == "approved_item":
        other = instance.item.share.items.create(
            category=C.ItemCategory.OTHER, content="Slipped in afterwards.", position=9
        )
        value = other.pk
    return field, value


@pytest.mark.parametrize("name", RECORDS)
def test_a_record_cannot_be_saved_again_after_creation(request, name):
    record = request.getfixturevalue(name)
    before = snapshot(record)
    field, value = change_for(name, record)

    setattr(record, field, value)
    with pytest.raises(ImmutableRecordError):
        record.save()

    assert snapshot(record) == before


@pytest.mark.parametrize("name", RECORDS)
def test_a_record_cannot_be_saved_even_unchanged(request, name):
    record = request.getfixturevalue(name)
    before = snapshot(record)

    with pytest.raises(ImmutableRecordError):
        record.save()

    assert snapshot(record) == before


@pytest.mark.parametrize("name", RECORDS)
def test_a_record_cannot_be_deleted(request, name):
    record = request.getfixturevalue(name)
    before = snapshot(record)

    with pytest.raises(ImmutableRecordError):
        record.delete()

    assert snapshot(record) == before


@pytest.mark.parametrize("name", RECORDS)
def test_records_cannot_be_updated_through_a_queryset(request, name):
    record = request.getfixturevalue(name)
    before = snapshot(record)
    field, value = change_for(name, record)
    model = type(record)

    with pytest.raises(ImmutableRecordError):
        model.objects.filter(pk=record.pk).update(**{field: value})
    with pytest.raises(ImmutableRecordError):
        model.objects.all().update(**{field: value})

    assert snapshot(record) == before


@pytest.mark.parametrize("name", RECORDS)
def test_records_cannot_be_deleted_through_a_queryset(request, name):
    record = request.getfixturevalue(name)
    before = snapshot(record)
    model = type(record)

    with pytest.raises(ImmutableRecordError):
        model.objects.filter(pk=record.pk).delete()
    with pytest.raises(ImmutableRecordError):
        model.objects.all().delete()

    assert snapshot(record) == before
    assert model.objects.count() == 1


@pytest.mark.parametrize("name", RECORDS)
def test_records_cannot_be_bulk_updated(request, name):
    record = request.getfixturevalue(name)
    before = snapshot(record)
    field, value = change_for(name, record)
    model = type(record)

    setattr(record, field, value)
    # bulk_update opens an atomic block without a savepoint: give it one so the test's own
    # transaction can still read the row afterwards.
    with pytest.raises(ImmutableRecordError), transaction.atomic():
        model.objects.bulk_update([record], [field])

    assert snapshot(record) == before


def test_the_items_a_decision_approved_cannot_be_removed_through_the_relation(
    decision, approved_item
):
    with pytest.raises(ImmutableRecordError), transaction.atomic():
        decision.approved_items.remove(approved_item.item)
    with pytest.raises(ImmutableRecordError), transaction.atomic():
        decision.approved_items.clear()
    with pytest.raises(ImmutableRecordError), transaction.atomic():
        decision.approved_items.set([])

    assert list(ApprovedItem.objects.filter(decision=decision)) == [approved_item]


def test_a_release_cannot_be_rewritten_to_claim_another_time(release):
    sent_at = release.sent_at

    release.sent_at = sent_at - timedelta(days=1)
    with pytest.raises(ImmutableRecordError):
        release.save()

    release.refresh_from_db()
    assert release.sent_at == sent_at


def test_a_new_decision_is_still_written_as_a_new_record(submitted, lead):
    # The guard stops changes, not the writing of new records.
    decision = steps.decide(
        share=submitted, user=lead, outcome=C.Outcome.APPROVE, reasons="Necessary."
    )

    assert Decision.objects.filter(pk=decision.pk).exists()
    assert ApprovedItem.objects.filter(decision=decision).count() == 1


@pytest.mark.parametrize("name", ["decision", "release"])
def test_a_new_instance_with_an_existing_pk_cannot_overwrite_the_record(request, name):
    record = request.getfixturevalue(name)
    before = snapshot(record)
    field, value = change_for(name, record)
    model = type(record)
    forged = model(**{f.attname: getattr(record, f.attname) for f in model._meta.concrete_fields})
    setattr(forged, field, value)

    with contextlib.suppress(ImmutableRecordError), transaction.atomic():
        forged.save()  # must be refused; today it silently rewrites the row

    after = snapshot(record)
    assert after[field] == before[field]
    assert after == before


def test_a_record_cannot_be_rewritten_by_an_upsert(decision):
    before = snapshot(decision)
    forged = Decision(
        **{f.attname: getattr(decision, f.attname) for f in Decision._meta.concrete_fields}
    )
    forged.reasons = "Rewritten after the event."

    with contextlib.suppress(ImmutableRecordError), transaction.atomic():
        Decision.objects.bulk_create(
            [forged], update_conflicts=True, unique_fields=["id"], update_fields=["reasons"]
        )

    assert snapshot(decision) == before
