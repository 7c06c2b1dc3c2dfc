"""Command handlers of the specialties context itself: enabling specialties for a tenant and
ticking a checklist's step. What other contexts' commands call is in extension.py."""

from __future__ import annotations

from uuid import UUID

from backend.handling import CommandResult, CommandSession
from backend.kernel.errors import Invalid
from backend.specialties import registry, workflows
from backend.tenancy import model as tenancy


async def enable_specialties(session: CommandSession, names: list[str]) -> CommandResult:
    loaded = registry.active().catalog
    for i, name in enumerate(names):
        if name not in loaded.plugins:
            why = "is invalid (see GET /v1/specialties)" if name in loaded.problems else "unknown"
            raise Invalid(f"specialties.{i}", f"specialty {name!r} {why}")
    tenant = await session.load(tenancy.TENANT, session.tenant_id, conditional=True)
    session.note_plugins({name: loaded.plugins[name].version for name in names})
    return await session.save(tenant, tenancy.enable_specialties(tenant.state, names))


async def complete_step(session: CommandSession, checklist_id: UUID, step: str) -> CommandResult:
    checklist = await session.load(workflows.CHECKLIST, checklist_id, conditional=True)
    principal = session.ctx.principal
    roles = frozenset(str(r) for r in principal.roles)
    events = workflows.complete_step(checklist.state, step, principal.actor, roles, session.ctx.now)
    return await session.save(checklist, events)
