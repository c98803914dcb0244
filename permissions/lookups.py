"""Get-or-404 helpers: the only way a view fetches a case or share for a person.

Someone who may not see a record gets "not found", never a hint that it exists. Someone
who may see it but not do what they asked gets "forbidden".
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from cases.models import Case, Share

from .roles import UserLike
from .selectors import case_list_for, share_list_for


def get_case_for(user: UserLike, pk: int) -> Case:
    return get_object_or_404(case_list_for(user), pk=pk)


def get_share_for(user: UserLike, pk: int) -> Share:
    return get_object_or_404(share_list_for(user), pk=pk)


def get_share_to_act_on(
    user: UserLike, pk: int, may_act: Callable[[UserLike, Share], bool]
) -> Share:
    share = get_share_for(user, pk)
    if not may_act(user, share):
        raise PermissionDenied
    return share
