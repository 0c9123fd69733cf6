"""Which tool calls wait for a human: the approval policy, per tenant.

Levels 3-4 (external and high-risk side effects) need an approval by default. A tenant may
lower or raise its threshold, require approval for named tools, or waive it for named tools,
but never for a level-4 tool nor for a tool whose declaration insists on approval: those
are the calls where a wrong model decision cannot be undone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.tools.spec import RiskLevel, ToolSpec


@dataclass(frozen=True)
class TenantPolicy:
    """One tenant's approval rules."""

    min_level: int = 3
    require: frozenset[str] = frozenset()
    waive: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, raw: dict[str, Any], default_min_level: int) -> TenantPolicy:
        """Build from ``{"min_level": 2, "require": [...], "waive": [...]}`` (all optional)."""
        unknown = set(raw) - {"min_level", "require", "waive"}
        if unknown:
            raise ValueError(f"unknown approval policy keys: {sorted(unknown)}")
        min_level = int(raw.get("min_level", default_min_level))
        if not 0 <= min_level <= 5:
            raise ValueError("approval policy min_level must be 0-5 (5: only what must)")
        return cls(
            min_level=min_level,
            require=frozenset(raw.get("require", ())),
            waive=frozenset(raw.get("waive", ())),
        )


@dataclass
class ApprovalPolicy:
    """Approval rules for every tenant, with a default for tenants not configured."""

    default: TenantPolicy = field(default_factory=TenantPolicy)
    tenants: dict[str, TenantPolicy] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, min_level: int, per_tenant: dict[str, dict[str, Any]]) -> ApprovalPolicy:
        """Build from BATON_TOOL_APPROVAL_MIN_LEVEL and BATON_TOOL_APPROVAL_POLICY."""
        default = TenantPolicy(min_level=min_level)
        return cls(
            default=default,
            tenants={t: TenantPolicy.from_config(raw, min_level) for t, raw in per_tenant.items()},
        )

    def for_tenant(self, tenant_id: str) -> TenantPolicy:
        """The rules that apply to ``tenant_id``."""
        return self.tenants.get(tenant_id, self.default)

    def decide(
        self, spec: ToolSpec, tenant_id: str, default_min_level: int | None = None
    ) -> tuple[bool, str]:
        """Whether a call of ``spec`` needs approval for this tenant, and the rule that said so.

        ``default_min_level`` replaces the default threshold for tenants without their own rules.
        """
        rules = self.for_tenant(tenant_id)
        if default_min_level is not None and tenant_id not in self.tenants:
            rules = TenantPolicy(default_min_level, rules.require, rules.waive)
        level = int(spec.risk_level)
        if spec.name in rules.require:
            return True, "tenant requires approval for this tool"
        if spec.approval_required is True:
            return True, "tool declares approval required"
        if level >= RiskLevel.HIGH_RISK:
            return True, "level 4 always needs approval"
        if spec.name in rules.waive:
            return False, "tenant waived approval for this tool"
        if spec.approval_required is False:
            return False, "tool declares no approval needed"
        if level >= rules.min_level:
            return True, f"level {level} >= tenant threshold {rules.min_level}"
        return False, f"level {level} < tenant threshold {rules.min_level}"
