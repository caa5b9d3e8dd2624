"""Who may do what: the one permission table of the web app (docs/security.md prints it).

Roles are per project: a project's database holds its users, each with one role. ``public`` is what an
anonymous visitor gets, and a role an account can have too (a buyer's script that reads the public registry
with a token): the account is known, and still sees only the public registry. Every route of the app names
exactly one permission of :data:`PERMISSIONS` (``require`` in :mod:`icam.web.deps`); the tests try every role
on every route.
"""

from __future__ import annotations

PUBLIC = "public"
STAFF = ("admin", "analyst", "agreements", "ranger", "verifier", "jurisdiction")
ROLES = (*STAFF, PUBLIC)
EVERYONE = ROLES

# permission -> the roles that hold it, and what it covers
PERMISSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "registry.read": (EVERYONE, "the public registry: issuance blocks by vintage, balances, retirements and their "
                                "beneficiaries, serial search and history, aggregate figures of the project"),
    "map.read": (STAFF, "the map: project, leakage belt, risk and loss rasters"),
    "parcels.read": (("admin", "analyst", "agreements", "ranger", "verifier"),
                     "parcels on the map with their agreement and compliance (no owner's name)"),
    "households.read": (("admin", "analyst", "agreements", "verifier"),
                        "households, members, agreements, deliveries and payments, grievances"),
    "agreements.write": (("admin", "agreements"),
                         "register households, agreements, benefit deliveries and grievances; upload field files"),
    "alerts.read": (("admin", "analyst", "ranger", "verifier"),
                    "deforestation alerts, patrol plans, outcomes and incidents; GPX/KML downloads"),
    "patrols.write": (("admin", "ranger"), "assign alerts to patrols, record outcomes and incidents"),
    "outputs.read": (("admin", "analyst", "verifier"),
                     "the run's outputs and report, its manifest with the inputs' hashes"),
    "allocation.read": (("admin", "analyst", "verifier", "jurisdiction"),
                        "the baseline's allocation, nesting in the jurisdiction, the risk benchmark"),
    "audit.read": (("admin", "analyst", "verifier"), "the audit logs: the web app's writes and the ledger's chain"),
    "users.manage": (("admin",), "the project's users and their roles"),
}


def allows(role: str, permission: str) -> bool:
    """Whether ``role`` (one of :data:`EVERYONE`) holds ``permission``; an unknown permission is a bug."""
    roles, _ = PERMISSIONS[permission]
    return role in roles


def permissions_of(role: str) -> frozenset[str]:
    """Every permission ``role`` holds."""
    return frozenset(p for p, (roles, _) in PERMISSIONS.items() if role in roles)


def writes(permission: str) -> bool:
    """Whether ``permission`` lets its holders change something (the verifier holds none of these)."""
    return permission.endswith(".write") or permission == "users.manage"


__all__ = ["EVERYONE", "PERMISSIONS", "PUBLIC", "ROLES", "STAFF", "allows", "permissions_of", "writes"]
