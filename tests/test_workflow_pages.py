"""One place for the work: viewflow's own lists are retired in favour of the Safeguarding pages.

Their old addresses send each person to the Safeguarding page holding the same work; the
site menu offers only the Safeguarding application; a share's steps stay one link away from
its page, named in words, for whoever may see the share and for nobody else.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from cases.models import Share
from workflows.models import ShareProcess

from .http_helpers import url

# Each retired list, and where it sends a lead (or deputy) and anyone else.
RETIRED = {
    "index": ("index", "index"),  # viewflow's dashboard: the home page, what needs me now
    "inbox": ("index", "index"),
    "process_list": ("index", "index"),
    "task_list": ("index", "index"),
    "queue": ("review_queue", "index"),  # reviews nobody has taken
    "archive": ("my_shares", "my_shares"),  # work done
}


def _steps_page(share: Share) -> str:
    return reverse("share:process_detail", args=[ShareProcess.objects.get(share=share).pk])


def _menu(body: str) -> str:
    """The words of the page's menu (the drawer before the page's own content)."""
    drawer = body[body.index("<aside") : body.index('<main class="vf-page__content"')]
    return " ".join(re.sub(r"<[^>]+>", " ", drawer).split())


@pytest.mark.parametrize("name", RETIRED)
def test_a_retired_list_sends_each_person_to_the_safeguarding_page_with_that_work(
    client: Any, lead: Any, deputy: Any, practitioner: Any, manager: Any, name: str
) -> None:
    for_deciders, for_others = RETIRED[name]
    for person, goes_to in (
        (lead, for_deciders),
        (deputy, for_deciders),
        (practitioner, for_others),
        (manager, for_others),
    ):
        client.force_login(person)
        # viewflow's filters and page numbers are not carried over: they mean nothing there.
        response = client.get(reverse(f"share:{name}") + "?page=2&status=NEW")
        assert response.status_code == 302, (name, person.username)
        assert response["Location"] == url(goes_to), (name, person.username)
        assert client.get(response["Location"]).status_code == 200, (name, person.username)


def test_the_menu_offers_only_the_safeguarding_application(
    client: Any, lead: Any, submitted: Share
) -> None:
    client.force_login(lead)
    for page in (url("case_list"), url("share_detail", submitted.pk), _steps_page(submitted)):
        menu = _menu(client.get(page).content.decode())
        assert "Safeguarding" in menu and "Lead review queue" in menu, page
        assert "Share workflow" not in menu, page
        for retired in ("Dashboard", "Inbox", "Queue", "Archive"):
            assert not re.search(rf"\b{retired}\b", menu), (page, retired)


def test_a_shares_page_links_to_its_steps_named_in_words(
    client: Any, practitioner: Any, submitted: Share
) -> None:
    client.force_login(practitioner)
    steps_page = _steps_page(submitted)
    share_page = client.get(url("share_detail", submitted.pk)).content.decode()
    assert f'href="{steps_page}"' in share_page

    body = client.get(steps_page).content.decode()
    main = body[body.index('<main class="vf-page__content"') :]
    assert f"How share #{submitted.pk} moved through its steps" in main
    assert f'href="{url("share_detail", submitted.pk)}"' in main
    for step in ("Prepare the share", "Lead review"):
        assert f"<td>{step}</td>" in main
    assert practitioner.get_full_name() in main
    # No "#41/316" codes, no Cancel nobody may use, no link into viewflow's task pages.
    assert not re.search(r"\d+/\d+", re.sub(r"<[^>]+>", " ", main))
    assert "Cancel" not in main and "/cancel/" not in main
    assert not re.search(r'href="[^"]*/(draft|lead_review)/\d+/', main)


def test_only_those_who_may_see_the_share_find_its_steps(
    client: Any, colleague: Any, other_lead: Any, lead: Any, submitted: Share
) -> None:
    steps_page = _steps_page(submitted)
    client.raise_request_exception = False
    for outsider in (colleague, other_lead):
        client.force_login(outsider)
        assert client.get(steps_page).status_code == 404
    client.force_login(lead)
    assert client.get(steps_page).status_code == 200
