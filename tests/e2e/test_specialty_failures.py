"""Plugins fail closed: a rule that cannot be evaluated, a calculator that raises or returns
the wrong type refuse the command with a 422 that says why, and are logged with the plugin
and its version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from e2e_helpers import assert_problem
from specialty_helpers import enable, own_plugins, register, write_plugin
from structlog.testing import capture_logs
from support import TenantFixture

MANIFEST = """apiVersion: caretrail.io/v1
kind: SpecialtyPlugin
metadata: {name: labs, version: 2.1.0, displayName: Laboratory}
spec:
  fields:
    - {name: raises, type: number, applies_to: [patient, visit]}
    - {name: gives_none, type: number, applies_to: [patient]}
    - {name: gives_text, type: number, applies_to: [patient]}
    - {name: gives_fraction, type: number, applies_to: [patient]}
    - {name: crashes, type: number, applies_to: [patient]}
    - {name: hoards, type: number, applies_to: [patient]}
    - {name: huge, type: number, applies_to: [patient]}
    - {name: vast, type: number, applies_to: [patient]}
  calculators:
    - {id: broken, name: Broken, version: "1", inputs: [raises], function: broken,
       output: {type: number}}
    - {id: none_number, name: None, version: "1", inputs: [gives_none], function: give_none,
       output: {type: number}}
    - {id: text_number, name: Text, version: "1", inputs: [gives_text], function: give_text,
       output: {type: number}}
    - {id: crash, name: Crash, version: "1", inputs: [crashes], function: crash,
       output: {type: number}}
    - {id: hoard, name: Hoard, version: "1", inputs: [hoards], function: hoard,
       output: {type: number}}
    - {id: half_count, name: Half, version: "1", inputs: [gives_fraction],
       expression: gives_fraction / 2, output: {type: integer}}
  validations:
    - {id: huge_limit, severity: error, when: {field: huge},
       require: huge * 1000000000 * 1000000000 < 5, message: Too much}
    - {id: vast_hint, severity: warning, when: {field: vast},
       require: vast * 1000000000 * 1000000000 > 0, message: Check the value}
"""
FUNCTIONS = """def broken(inputs):
    raise ValueError("no reference range for this assay")


def give_none(inputs):
    return None


def give_text(inputs):
    return "not-a-number"


def crash(inputs):
    import os

    os._exit(7)


def hoard(inputs):
    return len(bytearray(4 * 1024**3))
"""


@pytest.fixture
async def labs(
    client: httpx.AsyncClient, tenant: TenantFixture, tmp_path: Path
) -> AsyncIterator[TenantFixture]:
    """A tenant with the `labs` plugin of this test enabled."""
    write_plugin(tmp_path, "labs", MANIFEST, FUNCTIONS)
    async with own_plugins(tmp_path):
        assert (await enable(client, tenant, "labs")).status_code == 200
        yield tenant


async def test_an_error_rule_that_cannot_be_evaluated_refuses_the_command(
    client: httpx.AsyncClient, labs: TenantFixture
) -> None:
    with capture_logs() as logs:
        r = await register(client, labs, specialty_data={"labs": {"huge": 1e6}})
    body = assert_problem(r, 422, "VALIDATION_RULE_NOT_EVALUATED")
    [error] = body["errors"]
    assert error["field"] == "rule.huge_limit"
    assert error["message"].startswith("could not be evaluated, so the command is refused")
    assert "beyond 10^15" in error["message"]
    [logged] = [e for e in logs if e["event"] == "plugin_refused_command"]
    assert (logged["plugin"], logged["plugin_version"]) == ("labs", "2.1.0")


async def test_a_warning_rule_that_cannot_be_evaluated_is_returned_and_logged(
    client: httpx.AsyncClient, labs: TenantFixture
) -> None:
    with capture_logs() as logs:
        r = await register(client, labs, specialty_data={"labs": {"vast": 1e6}})
    assert r.status_code == 201, r.text
    [warning] = r.json()["warnings"]
    assert (warning["rule"], warning["message"]) == ("labs.vast_hint", "Check the value")
    assert "beyond 10^15" in warning["not_evaluated"]
    [logged] = [e for e in logs if e["event"] == "plugin_rule_not_evaluated"]
    assert (logged["plugin"], logged["plugin_version"]) == ("labs", "2.1.0")


@pytest.mark.parametrize(
    ("field", "calculator", "why"),
    [
        ("raises", "broken", "ValueError: no reference range for this assay"),
        ("gives_none", "none_number", "returned None, not a number"),
        ("gives_text", "text_number", "returned 'not-a-number', not a number"),
        ("gives_fraction", "half_count", "returned 1.5, not a whole number"),
        ("crashes", "crash", "its worker process ended (exit code 7)"),
        ("hoards", "hoard", "MemoryError: "),
    ],
)
async def test_a_calculator_that_fails_records_nothing_and_says_why(
    client: httpx.AsyncClient, labs: TenantFixture, field: str, calculator: str, why: str
) -> None:
    with capture_logs() as logs:
        r = await register(client, labs, specialty_data={"labs": {field: 3}})
    body = assert_problem(r, 422, "CALCULATION_FAILED")
    assert body["errors"] == [
        {
            "field": f"calculator.labs.{calculator}",
            "message": f"labs.{calculator} 1 gave no result: {why}",
        }
    ]
    [logged] = [e for e in logs if e["event"] == "plugin_refused_command"]
    assert (logged["plugin"], logged["plugin_version"]) == ("labs", "2.1.0")
    assert logged["field"] == f"calculator.labs.{calculator}"
