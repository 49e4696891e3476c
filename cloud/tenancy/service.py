"""Tenants, users and logins. Services never commit; the caller owns the transaction.

User management (``add_user``, ``update_user``, ``disable_user``, ``reset_password``) keeps
three rules wherever it is called from (API, web pages, ``oms user``): roles come from
``cloud.permissions``; a customer user has exactly the customer role and a customer of its own
tenant; a tenant always keeps at least one active owner. Every change to a user is recorded
field by field (``cloud.audit``, entity ``user``); passwords never appear there."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cloud.audit.models import FieldChange
from cloud.audit.service import apply_changes, as_text, record_created
from cloud.customers.models import Customer
from cloud.db import utcnow
from cloud.errors import AppError
from cloud.permissions import ROLES, Action, Role, can
from cloud.references import resolve
from cloud.tenancy import repository
from cloud.tenancy.errors import (
    CustomerLinkInvalid,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    LastOwner,
    LoginThrottled,
    RolesRequired,
    TenantExists,
    TenantNotFound,
    UnknownCustomerNumber,
    UnknownRole,
    UserNotFound,
    WrongPassword,
)
from cloud.tenancy.models import ApiToken, LoginAttempt, Tenant, User, UserRole
from cloud.tenancy.schemas import UserUpdate
from cloud.tenancy.security import (
    generate_password,
    hash_identifier,
    hash_password,
    mask_email,
    new_token,
    token_hash,
    verify_password,
)

# Defined in cloud.tenancy.errors; callers of the login import them from here too.
__all__ = [
    "InvalidCredentials",
    "InvalidToken",
    "LoginThrottled",
    "UnknownRole",
    "verify_password",
]

log = structlog.get_logger("cloud.tenancy")
ENTITY = "user"
"""The audit entity of user changes."""
_AUDITED = ("email", "name", "is_active", "customer_id", "locale")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their tenant and roles. Every query is scoped by tenant_id."""

    user_id: int
    tenant_id: int
    email: str
    roles: frozenset[str]
    customer_id: int | None
    token_id: int | None = None
    """The API token this call came with (what logout revokes)."""
    name: str = ""
    locale: str = "nl"


def allowed_actions(roles: Iterable[str]) -> list[str]:
    """The actions (``cloud.permissions.Action`` values) these roles may do, sorted."""
    held = frozenset(roles)
    return sorted(a.value for a in Action if can(held, a))


# -- tenants ----------------------------------------------------------------------------------


def create_tenant(session: Session, *, slug: str, name: str, **fields: object) -> Tenant:
    if repository.tenant_by_slug(session, slug=slug) is not None:
        raise TenantExists(f"tenant {slug!r} exists")
    tenant = Tenant(slug=slug, name=name, **fields)
    session.add(tenant)
    session.flush()
    log.info("tenancy.tenant_created", tenant_id=tenant.id, slug=slug)
    return tenant


def get_tenant_by_slug(session: Session, *, slug: str) -> Tenant:
    tenant = repository.tenant_by_slug(session, slug=slug)
    if tenant is None:
        raise TenantNotFound(f"no tenant {slug!r}")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return repository.tenants(session)


# -- users ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUser:
    user: User
    password: str | None
    """The generated password (to show once), or None when the caller chose it."""


def create_user(
    session: Session,
    *,
    tenant_id: int,
    email: str,
    name: str,
    password: str | None,
    roles: list[str],
    customer_id: int | None = None,
    locale: str = "nl",
    by_user_id: int | None = None,
) -> User:
    """A user with exactly this password (None: no password, so no password login)."""
    roles = _check_roles(roles)
    email = email.strip().lower()
    if repository.user_id_by_email(session, email=email) is not None:
        # e-mail addresses are unique over all tenants: say no more than "taken"
        raise EmailTaken(f"the e-mail address {email!r} cannot be used for a new user")
    _check_customer_link(session, tenant_id=tenant_id, roles=roles, customer_id=customer_id)
    user = User(
        tenant_id=tenant_id,
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        customer_id=customer_id,
        locale=locale,
        roles=[UserRole(role=r) for r in roles],
    )
    session.add(user)
    session.flush()
    record_created(
        session, user, _AUDITED, tenant_id=tenant_id, entity=ENTITY, by_user_id=by_user_id
    )
    _record_roles(session, user, old=None, new=roles, by_user_id=by_user_id)
    log.info("tenancy.user_created", tenant_id=tenant_id, user_id=user.id, roles=roles)
    return user


def add_user(
    session: Session,
    *,
    tenant_id: int,
    email: str,
    roles: list[str],
    name: str | None = None,
    customer_id: int | None = None,
    locale: str = "nl",
    password: str | None = None,
    by_user_id: int | None = None,
) -> NewUser:
    """A new user who can log in: with ``password``, or with a generated one (returned once)."""
    generated = None if password else generate_password()
    user = create_user(
        session,
        tenant_id=tenant_id,
        email=email,
        name=name or email.strip().lower(),
        password=password or generated,
        roles=roles,
        customer_id=customer_id,
        locale=locale,
        by_user_id=by_user_id,
    )
    return NewUser(user=user, password=generated)


def customer_id_for_number(session: Session, *, tenant_id: int, number: str) -> int:
    """The id of the tenant's customer with this customer number (the operator's handle)."""
    customer_id = repository.customer_id_by_number(session, tenant_id=tenant_id, number=number)
    if customer_id is None:
        raise UnknownCustomerNumber(f"no customer with number {number!r} in this tenant")
    return customer_id


def list_users(session: Session, *, tenant_id: int) -> list[User]:
    return repository.users(session, tenant_id=tenant_id)


def customer_numbers(session: Session, *, tenant_id: int, ids: set[int]) -> dict[int, str]:
    """Customer id -> customer number, for showing customer users to an operator."""
    return repository.customer_numbers(session, tenant_id=tenant_id, ids=ids)


def get_user(session: Session, *, tenant_id: int, user_id: int) -> User:
    """A user of this tenant; another tenant's user is not found, exactly like a missing one."""
    user = repository.user(session, tenant_id=tenant_id, user_id=user_id)
    if user is None:
        raise UserNotFound(f"user {user_id} not found")
    return user


def get_user_by_email(session: Session, *, tenant_id: int, email: str) -> User:
    user = repository.user_by_email(session, tenant_id=tenant_id, email=email.strip().lower())
    if user is None:
        raise UserNotFound(f"no user {email.strip().lower()!r} in this tenant")
    return user


def update_user(
    session: Session,
    *,
    tenant_id: int,
    user_id: int,
    changes: UserUpdate,
    by_user_id: int | None = None,
) -> User:
    """Change the fields ``changes`` sets. Disabling a user also revokes its tokens."""
    user = get_user(session, tenant_id=tenant_id, user_id=user_id)
    fields = changes.model_dump(exclude_unset=True)
    old_roles = sorted(user.role_names)
    roles = _check_roles(fields.pop("roles")) if "roles" in fields else old_roles
    customer_id = fields.get("customer_id", user.customer_id)
    is_active = fields.get("is_active", user.is_active)
    _check_customer_link(session, tenant_id=tenant_id, roles=roles, customer_id=customer_id)
    _keep_an_owner(session, user=user, roles=roles, is_active=is_active)
    apply_changes(session, user, fields, tenant_id=tenant_id, entity=ENTITY, by_user_id=by_user_id)
    if roles != old_roles:
        user.roles = [UserRole(role=r) for r in roles]
        _record_roles(session, user, old=old_roles, new=roles, by_user_id=by_user_id)
    if not is_active:
        repository.revoke_tokens(session, user_id=user.id, now=utcnow())
    session.flush()
    log.info("tenancy.user_updated", tenant_id=tenant_id, user_id=user.id, by_user_id=by_user_id)
    return user


def disable_user(
    session: Session, *, tenant_id: int, user_id: int, by_user_id: int | None = None
) -> User:
    """The user can no longer log in, and every token it holds stops working at once."""
    return update_user(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        changes=UserUpdate(is_active=False),
        by_user_id=by_user_id,
    )


def reset_password(
    session: Session, *, tenant_id: int, user_id: int, by_user_id: int | None = None
) -> str:
    """A new generated password (returned once); the user's tokens are revoked, so every
    session it had ends."""
    user = get_user(session, tenant_id=tenant_id, user_id=user_id)
    password = generate_password()
    user.password_hash = hash_password(password)
    repository.revoke_tokens(session, user_id=user.id, now=utcnow())
    session.add(
        FieldChange(
            tenant_id=tenant_id,
            entity=ENTITY,
            entity_id=user.id,
            field="password",
            by_user_id=by_user_id,
            reason="password reset",
        )
    )
    session.flush()
    log.info("tenancy.password_reset", tenant_id=tenant_id, user_id=user.id, by_user_id=by_user_id)
    return password


def change_own_password(
    session: Session,
    *,
    tenant_id: int,
    user_id: int,
    current_password: str,
    new_password: str,
    keep_token_id: int | None = None,
) -> None:
    """The user sets a new password, proving the current one. Every other session of the
    user ends (its tokens are revoked); the one making the change (``keep_token_id``) stays."""
    user = get_user(session, tenant_id=tenant_id, user_id=user_id)
    if not verify_password(current_password, user.password_hash):
        raise WrongPassword("the current password is not right")
    if current_password == new_password:
        raise WrongPassword("the new password must differ from the current one")
    user.password_hash = hash_password(new_password)
    repository.revoke_tokens(session, user_id=user.id, now=utcnow(), keep_token_id=keep_token_id)
    session.add(
        FieldChange(
            tenant_id=tenant_id,
            entity=ENTITY,
            entity_id=user.id,
            field="password",
            by_user_id=user.id,
            reason="changed by the user",
        )
    )
    session.flush()
    log.info("tenancy.password_changed", tenant_id=tenant_id, user_id=user.id)


def _check_roles(roles: Iterable[str]) -> list[str]:
    names = sorted({str(r) for r in roles})  # Role members are str
    bad = [r for r in names if r not in ROLES]
    if bad:
        raise UnknownRole(f"unknown role(s) {bad}; known: {list(ROLES)}")
    if not names:
        raise RolesRequired(f"a user needs at least one role of {list(ROLES)}")
    return names


def _check_customer_link(
    session: Session, *, tenant_id: int, roles: list[str], customer_id: int | None
) -> None:
    """A customer user sees its own customer's orders only: it needs that customer, and no
    office or driver role next to it (those would widen what it sees)."""
    if Role.CUSTOMER in roles:
        if customer_id is None:
            raise CustomerLinkInvalid("a customer user needs its customer (customer_id)")
        if roles != [Role.CUSTOMER]:
            raise CustomerLinkInvalid("a customer user has the customer role only")
        resolve(session, Customer, field="customer_id", id_=customer_id, tenant_id=tenant_id)
    elif customer_id is not None:
        raise CustomerLinkInvalid("only a user with the customer role has a customer_id")


def _keep_an_owner(session: Session, *, user: User, roles: list[str], is_active: bool) -> None:
    """Refuse a change that leaves the tenant without an active owner. The tenant row is
    locked first (PostgreSQL), so two owners demoting each other at once cannot both pass."""
    was_owner = user.is_active and Role.OWNER in user.role_names
    stays_owner = is_active and Role.OWNER in roles
    if not was_owner or stays_owner:
        return
    repository.lock_tenant(session, tenant_id=user.tenant_id)
    if repository.count_active_owners(session, tenant_id=user.tenant_id, besides=user.id) == 0:
        raise LastOwner(
            f"{user.email} is the last active owner of this tenant; make another user owner first"
        )


def _record_roles(
    session: Session, user: User, *, old: list[str] | None, new: list[str], by_user_id: int | None
) -> None:
    session.add(
        FieldChange(
            tenant_id=user.tenant_id,
            entity=ENTITY,
            entity_id=user.id,
            field="roles",
            old_value=as_text(old),
            new_value=as_text(new),
            by_user_id=by_user_id,
        )
    )


# -- logins and tokens ------------------------------------------------------------------------


def issue_token(
    session: Session, *, user_id: int, ttl: timedelta | None, name: str = "login"
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        user_id=user_id,
        token_hash=token_hash(token),
        name=name,
        expires_at=utcnow() + ttl if ttl else None,
    )
    session.add(row)
    session.flush()
    return token, row


@dataclass(frozen=True)
class LoginPolicy:
    """Throttling of password logins (from the settings ``login_*``).

    A failure counts against the account (the normalised e-mail, whether or not such a user
    exists, so a lockout does not tell which addresses are real) and against the client
    address. When either has ``max_failures_*`` failures within ``window_s``, further attempts
    are refused with 429 until ``lockout_s`` after the latest of them, without checking the
    password. A refused (throttled) attempt is logged but not stored, so hammering a locked
    account does not lock it for longer. A successful login clears the account's count (the
    failures before it no longer count), but not the address's: one valid account must not
    let an address reset its count between guesses at other accounts."""

    max_failures_per_account: int
    max_failures_per_address: int
    window_s: int
    lockout_s: int
    key: bytes
    """Keys the hash of the e-mail address that is stored and logged."""


@dataclass(frozen=True)
class LoginResult:
    """What one attempt came to. A refused attempt must still be stored, so ``login`` returns
    the refusal instead of raising; the caller commits, then raises ``refusal``."""

    token: str | None = None
    expires_at: datetime | None = None
    user_id: int | None = None
    refusal: AppError | None = None


def login(
    session: Session,
    *,
    email: str,
    password: str,
    ttl: timedelta,
    address: str,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> LoginResult:
    """Check a password login. Unknown users, disabled users and users without a password
    take the same path as a wrong password, including a full scrypt check (against a dummy
    hash), so the answer and its timing do not tell them apart."""
    now = now or utcnow()
    email = email.strip().lower()
    account = hash_identifier(email, key=policy.key)
    address = address[:64]
    who = {"account": account[:16], "email": mask_email(email), "address": address}
    _serialize_attempts(session, account=account, address=address)
    _prune_attempts(session, before=now - timedelta(seconds=policy.window_s))
    retry_after, scope = _throttled(
        session, account=account, address=address, policy=policy, now=now
    )
    if retry_after:
        log.warning("tenancy.login_throttled", scope=scope, retry_after=retry_after, **who)
        return LoginResult(
            refusal=LoginThrottled(
                f"too many failed logins for this {scope}; try again in {retry_after} s",
                retry_after=retry_after,
            )
        )
    user = repository.user_by_login(session, email=email)
    password_ok = verify_password(password, user.password_hash if user else None)
    ok = user is not None and user.is_active and password_ok
    session.add(LoginAttempt(at=now, account_hash=account, address=address, succeeded=ok))
    session.flush()
    if not ok or user is None:
        reason = "unknown_user" if user is None else "wrong_password"
        if user is not None and not user.is_active:
            reason = "disabled"
        log.warning("tenancy.login_failed", reason=reason, **who)
        return LoginResult(refusal=InvalidCredentials("wrong e-mail or password"))
    token, row = issue_token(session, user_id=user.id, ttl=ttl)
    log.info("tenancy.login_succeeded", user_id=user.id, **who)
    return LoginResult(token=token, expires_at=row.expires_at, user_id=user.id)


def _serialize_attempts(session: Session, *, account: str, address: str) -> None:
    """Make counting the recent failures and recording this attempt one step per account and
    per address, until the caller's transaction ends: otherwise parallel guesses all count
    fewer failures than the limit, and all get a password check.

    On PostgreSQL, transaction-level advisory locks on a hash of the account, then of the
    address (always in that order, so two logins never wait for each other crosswise). The
    counts are read after the lock is granted, so under READ COMMITTED they see every attempt
    committed by the login that held it. SQLite needs nothing: ``make_engine`` begins every
    transaction with ``BEGIN IMMEDIATE``, which already serializes all writers."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for kind, value in (("account", account), ("address", address)):
        session.execute(select(func.pg_advisory_xact_lock(_lock_key(f"login-{kind}:{value}"))))


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (the same in every process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _throttled(
    session: Session, *, account: str, address: str, policy: LoginPolicy, now: datetime
) -> tuple[int, str]:
    """Seconds until the next attempt is allowed (0: now), and for what: account or address."""
    since = now - timedelta(seconds=policy.window_s)
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.account_hash == account, LoginAttempt.succeeded.is_(True)
        )
    )
    account_since = max(since, last_success) if last_success else since
    for scope, column, value, since_, limit in (
        (
            "account",
            LoginAttempt.account_hash,
            account,
            account_since,
            policy.max_failures_per_account,
        ),
        ("address", LoginAttempt.address, address, since, policy.max_failures_per_address),
    ):
        count, latest = session.execute(
            select(func.count(), func.max(LoginAttempt.at)).where(
                column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since_
            )
        ).one()
        if count >= limit and latest is not None:
            wait = (latest + timedelta(seconds=policy.lockout_s) - now).total_seconds()
            if wait > 0:
                return math.ceil(wait), scope
    return 0, ""


def _prune_attempts(session: Session, *, before: datetime) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < before))


def revoke_token(session: Session, *, token_id: int, now: datetime | None = None) -> None:
    """Logout: the token stops working at once, on every API process."""
    row = session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.flush()


def authenticate(session: Session, *, token: str) -> Principal:
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise InvalidToken("unknown token")
    api_token, user = row
    now = utcnow()
    if api_token.revoked_at is not None or (api_token.expires_at and api_token.expires_at <= now):
        raise InvalidToken("token expired or revoked")
    if not user.is_active:
        raise InvalidToken("user is disabled")
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        roles=user.role_names,
        customer_id=user.customer_id,
        token_id=api_token.id,
        name=user.name,
        locale=user.locale,
    )
