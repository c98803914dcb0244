"""Importing a setting's children (with their carers) or staff from a school MIS export:
reading the CSV (``reading``), planning each row (``children``, ``staff``, ``plan``) and the
upload, preview, confirm and discard steps (``service``)."""

from .plan import Action, ImportPlan, RowPlan
from .reading import ImportFileError
from .service import (
    COLUMNS,
    ImportOutcome,
    register_import_apply,
    register_import_discard,
    register_import_preview,
    register_import_start,
)

__all__ = [
    "COLUMNS",
    "Action",
    "ImportFileError",
    "ImportOutcome",
    "ImportPlan",
    "RowPlan",
    "register_import_apply",
    "register_import_discard",
    "register_import_preview",
    "register_import_start",
]
