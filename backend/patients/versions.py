"""The patient resource as the API shows it, and what its versions changed.

2026-12-01: a patient's name is one object, `{"name": {"given", "family"}}`, in request bodies
(POST and PATCH /v1/patients) and in every patient answered (reads, lists, commands). Before,
it was two fields, `given_name` and `family_name`. The routes speak the new shape; NAME_AS_OBJECT
turns a 2026-11-01 caller's bodies into it and the answers back (backend/api/versioning.py).
The domain and its events keep `given_name` and `family_name`: a version changes shapes at the
edge, never what was recorded.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from backend.api.versions import VersionChange
from backend.handling import CommandResult
from backend.kernel.errors import Invalid

_PARTS = (("given_name", "given"), ("family_name", "family"))


def resource(view: dict[str, Any]) -> dict[str, Any]:
    """A patient's view (the folded state, the read model's row) in the newest shape."""
    shown = {
        name: value for name, value in view.items() if name not in ("given_name", "family_name")
    }
    return {**shown, "name": {new: view.get(old) for old, new in _PARTS}}


def as_resource(result: CommandResult) -> CommandResult:
    return dataclasses.replace(result, view=resource(result.view))


def _registration_name_as_object(body: Any) -> Any:
    """A 2026-11-01 registration in the 2026-12-01 shape: a name part missing is missing from
    `name` (and refused as `given_name` or `family_name`)."""
    return _name_as_object(body, always=True)


def _changes_name_as_object(body: Any) -> Any:
    """A 2026-11-01 change in the 2026-12-01 shape: `name` only if a part of it changes."""
    return _name_as_object(body, always=False)


def _name_as_object(body: Any, *, always: bool) -> Any:
    if not isinstance(body, dict):
        return body
    if "name" in body:
        raise Invalid("name", "not a field in version 2026-11-01: give given_name, family_name")
    name = {new: body[old] for old, new in _PARTS if old in body}
    kept = {field: value for field, value in body.items() if field not in dict(_PARTS)}
    return {**kept, "name": name} if name or always else kept


def _name_as_fields(patient: Any) -> Any:
    """A 2026-12-01 patient in the 2026-11-01 shape."""
    if not isinstance(patient, dict) or not isinstance(patient.get("name"), dict):
        return patient
    name = patient["name"]
    kept = {field: value for field, value in patient.items() if field != "name"}
    return {**kept, **{old: name.get(new) for old, new in _PARTS}}


def _list_of_names_as_fields(page: Any) -> Any:
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        return page
    return {**page, "items": [_name_as_fields(p) for p in page["items"]]}


def _schemas_with_name_fields(document: dict[str, Any]) -> None:
    """The request schemas of 2026-11-01: `given_name`, `family_name` where `name` is."""
    schemas = document["components"]["schemas"]
    for model, parts in (("NewPatient", "PersonName"), ("PatientChanges", "NameChanges")):
        properties = schemas[model]["properties"]
        part_schemas = schemas.pop(parts)["properties"]
        flat = {old: part_schemas[new] for old, new in _PARTS}
        schemas[model]["properties"] = {
            **flat,
            **{k: v for k, v in properties.items() if k != "name"},
        }
        required = schemas[model].get("required")
        if required is not None and "name" in required:
            schemas[model]["required"] = [*flat, *(r for r in required if r != "name")]


_PATIENT = "/v1/patients/{patient_id}"
NAME_AS_OBJECT = VersionChange(
    version="2026-12-01",
    summary="a patient's name is one object, name: {given, family}, in place of given_name and"
    " family_name, in request bodies and in every patient answered",
    requests={
        ("POST", "/v1/patients"): _registration_name_as_object,
        ("PATCH", _PATIENT): _changes_name_as_object,
    },
    responses={
        ("POST", "/v1/patients"): _name_as_fields,
        ("PATCH", _PATIENT): _name_as_fields,
        ("GET", _PATIENT): _name_as_fields,
        ("POST", f"{_PATIENT}/erase"): _name_as_fields,
        ("POST", f"{_PATIENT}/death"): _name_as_fields,
        ("POST", f"{_PATIENT}/merge"): _name_as_fields,
        ("GET", "/v1/patients"): _list_of_names_as_fields,
    },
    old_fields={"name.given": "given_name", "name.family": "family_name"},
    schemas=_schemas_with_name_fields,
)
