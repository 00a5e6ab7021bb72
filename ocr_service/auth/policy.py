"""The account policy in force for one organisation: installation defaults (Settings), overridden
by each ancestor's ``organisations.policy`` from the root down, so a 部署 sets rules for its グループ
and a グループ may tighten them further."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from ocr_service.auth.models import ROLES
from ocr_service.config import Settings
from ocr_service.orgs.models import Organisation


def _check_cidrs(values: list[str]) -> list[str]:
    cleaned = []
    for value in values:
        try:
            cleaned.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise ValueError(f"ネットワークの書き方が正しくありません: {value}（例: 10.1.0.0/16）") from exc
    return cleaned


class AccountPolicy(BaseModel):
    """Every knob an organisation can override; field names are the keys of ``organisations.policy``."""

    password_min_length: int = Field(ge=8, le=128)
    password_min_score: int = Field(ge=0, le=4)
    password_history: int = Field(ge=0, le=24)
    password_max_age_days: int = Field(ge=0, le=3650)
    password_warn_days: int = Field(ge=0, le=365)
    lockout_threshold: int = Field(ge=1, le=100)
    lockout_minutes: int = Field(ge=1, le=24 * 60)
    mfa_required_roles: list[str]
    allowed_networks: list[str]
    """Client networks allowed to sign in; empty = any."""
    personal_data_networks: list[str]
    """個人情報系 networks: only they open documents of ``personal_data`` forms."""
    require_client_cert: bool = False
    client_cert_subjects: list[str] = Field(default_factory=list)
    """Accepted certificate subjects (exact); empty = any verified certificate."""

    @field_validator("allowed_networks", "personal_data_networks")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        return _check_cidrs(values)

    @field_validator("mfa_required_roles")
    @classmethod
    def _roles(cls, values: list[str]) -> list[str]:
        unknown = [r for r in values if r not in ROLES]
        if unknown:
            raise ValueError(f"不明な役割です: {', '.join(unknown)}")
        return values


OVERRIDABLE = frozenset(AccountPolicy.model_fields)


def installation_policy(settings: Settings) -> AccountPolicy:
    return AccountPolicy.model_validate(
        {key: getattr(settings, key) for key in OVERRIDABLE if hasattr(settings, key)}
    )


def org_chain(db: Session, org_id: int) -> list[Organisation]:
    """The organisation and its ancestors, root first."""
    chain: list[Organisation] = []
    current = db.get(Organisation, org_id)
    while current is not None and len(chain) < 32:  # a cycle in bad data must not hang a login
        chain.append(current)
        current = db.get(Organisation, current.parent_id) if current.parent_id else None
    return list(reversed(chain))


def effective_policy(db: Session, *, settings: Settings, org_id: int) -> AccountPolicy:
    merged: dict[str, Any] = installation_policy(settings).model_dump()
    for org in org_chain(db, org_id):
        merged.update({k: v for k, v in (org.policy or {}).items() if k in OVERRIDABLE})
    return AccountPolicy.model_validate(merged)


def validate_overrides(overrides: dict[str, Any], *, base: AccountPolicy) -> dict[str, Any]:
    """Check an organisation's overrides (merged onto ``base`` so every bound applies); keep only set keys."""
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise ValueError(f"設定できない項目です: {', '.join(sorted(unknown))}")
    checked = AccountPolicy.model_validate({**base.model_dump(), **overrides})
    return {key: getattr(checked, key) for key in overrides}


_LABELS = {
    "password_min_length": "最小文字数",
    "password_min_score": "強度",
    "password_history": "再利用禁止の世代数",
    "password_max_age_days": "有効期限",
    "password_warn_days": "期限前の警告",
    "lockout_threshold": "ロックまでの失敗回数",
    "lockout_minutes": "ロック時間",
    "mfa_required_roles": "二要素認証が必須の役割",
    "allowed_networks": "ログインを許可するネットワーク",
    "personal_data_networks": "個人情報系ネットワーク",
    "require_client_cert": "電子証明書",
    "client_cert_subjects": "証明書のサブジェクト",
}


def _inside(networks: list[str], allowed: list[str]) -> bool:
    outer = [ipaddress.ip_network(n) for n in allowed]
    for value in networks:
        net = ipaddress.ip_network(value)
        if not any(net.version == o.version and net.subnet_of(o) for o in outer):  # type: ignore[arg-type]
            return False
    return True


def loosened(overrides: dict[str, Any], *, inherited: AccountPolicy) -> list[str]:
    """Japanese names of the settings in ``overrides`` that are weaker than what the organisation
    inherits. An administrator may only tighten its superiors' rules; a system administrator may
    set anything."""
    o = AccountPolicy.model_validate({**inherited.model_dump(), **overrides})
    i = inherited
    weaker = {
        "password_min_length": o.password_min_length < i.password_min_length,
        "password_min_score": o.password_min_score < i.password_min_score,
        "password_history": o.password_history < i.password_history,
        "password_max_age_days": i.password_max_age_days > 0
        and (o.password_max_age_days == 0 or o.password_max_age_days > i.password_max_age_days),
        "lockout_threshold": o.lockout_threshold > i.lockout_threshold,
        "lockout_minutes": o.lockout_minutes < i.lockout_minutes,
        "mfa_required_roles": not set(i.mfa_required_roles) <= set(o.mfa_required_roles),
        "allowed_networks": bool(i.allowed_networks)
        and (not o.allowed_networks or not _inside(o.allowed_networks, i.allowed_networks)),
        "personal_data_networks": bool(i.personal_data_networks)
        and not _inside(o.personal_data_networks, i.personal_data_networks),
        "require_client_cert": i.require_client_cert and not o.require_client_cert,
        "client_cert_subjects": bool(i.client_cert_subjects)
        and (not o.client_cert_subjects or not set(o.client_cert_subjects) <= set(i.client_cert_subjects)),
    }
    return [_LABELS[k] for k, is_weaker in weaker.items() if is_weaker and k in overrides]
