"""No silent lost update: a draft saved from a page opened before someone else's save is
refused, with both versions shown and what was typed kept; nothing is overwritten."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from cases.models import Share
from cases.people import display_name
from cases.services import share_update_draft
from cases.services.shares import draft_version

from .factories import complete_fields, item
from .http_helpers import form_data, page_text, text_of_id, url

OURS = "Ask the health visitor to weigh her at the next clinic."
THEIRS = "Ask the GP whether the weight loss has been looked into."


def _fields(share: Share, **changes: Any) -> dict[str, Any]:
    assert share.recipient is not None
    return complete_fields(share.recipient, **changes)


def test_a_save_based_on_an_older_version_is_refused(draft: Share, practitioner: Any) -> None:
    opened_at = draft_version(draft)
    share_update_draft(
        share=draft,
        user=practitioner,
        fields=_fields(draft, purpose=THEIRS),
        items=[item()],
        based_on=opened_at,
    )
    draft.refresh_from_db()
    assert draft_version(draft) != opened_at
    with pytest.raises(ValidationError) as refused:
        share_update_draft(
            share=draft,
            user=practitioner,
            fields=_fields(draft, purpose=OURS),
            items=[item()],
            based_on=opened_at,
        )
    [message] = refused.value.message_dict["draft_version"]
    assert "This draft was changed by" in message
    assert f"changed by {display_name(practitioner)} at " in message
    assert "after you opened it" in message and "nothing was overwritten" in message
    draft.refresh_from_db()
    assert draft.purpose == THEIRS


def test_a_save_based_on_the_current_version_goes_through(draft: Share, practitioner: Any) -> None:
    share_update_draft(
        share=draft,
        user=practitioner,
        fields=_fields(draft, purpose=OURS),
        items=[item()],
        based_on=draft_version(draft),
    )
    draft.refresh_from_db()
    assert draft.purpose == OURS


def test_the_page_shows_both_versions_and_keeps_what_was_typed(
    draft: Share, practitioner: Any
) -> None:
    earlier, later = Client(), Client()
    earlier.force_login(practitioner)
    later.force_login(practitioner)
    edit = url("share_edit", draft.pk)
    opened_earlier = earlier.get(edit)
    opened_later = later.get(edit)

    saved = later.post(edit, form_data(opened_later, purpose=THEIRS, action="save"))
    assert saved.status_code == 302

    refused = earlier.post(edit, form_data(opened_earlier, purpose=OURS, action="save"))
    assert refused.status_code == 400
    text = page_text(refused)
    assert "This draft was changed by" in text and "nothing was overwritten" in text
    theirs = text_of_id(refused, "saved-draft")
    assert THEIRS in theirs and "(differs from yours)" in theirs
    assert form_data(refused)["purpose"] == OURS  # what was typed here is still in the form
    draft.refresh_from_db()
    assert draft.purpose == THEIRS

    # Having seen theirs, saving again keeps ours, deliberately.
    again = earlier.post(edit, form_data(refused, action="save"))
    assert again.status_code == 302
    draft.refresh_from_db()
    assert draft.purpose == OURS


def test_submitting_from_an_older_page_is_refused_too(draft: Share, practitioner: Any) -> None:
    earlier, later = Client(), Client()
    earlier.force_login(practitioner)
    later.force_login(practitioner)
    edit = url("share_edit", draft.pk)
    opened_earlier = earlier.get(edit)
    later.post(edit, form_data(later.get(edit), purpose=THEIRS, action="save"))
    refused = earlier.post(edit, form_data(opened_earlier, purpose=OURS, action="submit"))
    assert refused.status_code == 400
    assert "after you opened it" in page_text(refused)
    draft.refresh_from_db()
    assert draft.purpose == THEIRS and draft.is_draft


def test_a_post_without_a_version_saves_nothing(draft: Share, practitioner: Any) -> None:
    client = Client()
    client.force_login(practitioner)
    edit = url("share_edit", draft.pk)
    data = form_data(client.get(edit), purpose=OURS, action="save", draft_version=None)
    assert client.post(edit, data).status_code == 400
    draft.refresh_from_db()
    assert draft.purpose != OURS
