"""Fleet's JIT role attributes (`FLEET_JIT_USER_ROLE_GLOBAL`, `FLEET_JIT_USER_ROLE_TEAM_<id>`).

SAML attributes and OIDC claims use the same names. Values: admin, maintainer, observer,
observer_plus, or `null` (ignored, for IdPs that always send every attribute). With several
values the last one counts, as in Fleet. A global role and team roles together are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts.choices import Role
from sso import constants
from sso.errors import SSOError


@dataclass
class MappedRoles:
    global_role: str | None = None
    teams: dict[int, str] = field(default_factory=dict)

    def is_set(self) -> bool:
        return self.global_role is not None or bool(self.teams)


def _last(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return str(value or "").strip()


def from_attributes(attributes: dict[str, Any], email: str = "") -> MappedRoles:
    mapped = MappedRoles()
    for name, values in attributes.items():
        if name == constants.ROLE_GLOBAL:
            scope = "global"
        elif name.startswith(constants.ROLE_TEAM_PREFIX):
            scope = name[len(constants.ROLE_TEAM_PREFIX) :]
            if not scope.isdigit():
                raise SSOError(f"{name}: the team part must be a team id", email=email)
        else:
            continue
        role = _last(values)
        if role == constants.ROLE_NULL:
            continue
        if role not in Role.values:
            raise SSOError(f"{name}: invalid role {role!r} (one of {', '.join(Role.values)}, null)", email=email)
        if scope == "global":
            mapped.global_role = role
        else:
            mapped.teams[int(scope)] = role
    if mapped.global_role and mapped.teams:
        raise SSOError(
            "The identity provider sent both a global role and team roles; a Fleet user has one or the other.",
            email=email,
        )
    return mapped
