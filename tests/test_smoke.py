from cases.choices import ShareStatus


def test_a_complete_draft_can_be_submitted(submitted):
    submitted.refresh_from_db()
    assert submitted.status == ShareStatus.AWAITING_REVIEW


def test_an_approved_share_waits_for_release(approved):
    assert approved.status == ShareStatus.APPROVED
