"""Tenants, users and logins. Services never commit; the caller owns the transaction."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.errors import AppError, Conflict, TooManyRequests, Unauthorized
from cloud.tenancy.models import ROLES, ApiToken, LoginAttempt, Tenant, User, UserRole
from cloud.tenancy.security import (
    hash_identifier,
    hash_password,
    mask_email,
    new_token,
    token_hash,
    verify_password,
)

log = structlog.get_logger("cloud.tenancy")


class InvalidCredentials(Unauthorized):
    pass


class InvalidToken(Unauthorized):
    pass


class UnknownRole(Conflict):
    status_code = 422


class LoginThrottled(TooManyRequests):
    """Too many failed logins for this account or from this address; ``retry_after`` is in
    whole seconds and goes out as the ``Retry-After`` header."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


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


def create_tenant(session: Session, *, slug: str, name: str, **fields: object) -> Tenant:
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise Conflict(f"tenant {slug!r} exists")
    tenant = Tenant(slug=slug, name=name, **fields)
    session.add(tenant)
    session.flush()
    return tenant


def create_user(
    session: Session,
    *,
    tenant_id: int,
    email: str,
    name: str,
    password: str | None,
    roles: list[str],
    customer_id: int | None = None,
) -> User:
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise UnknownRole(f"unknown role(s) {bad}; known: {list(ROLES)}")
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email!r} exists")
    user = User(
        tenant_id=tenant_id,
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        customer_id=customer_id,
        roles=[UserRole(role=r) for r in sorted(set(roles))],
    )
    session.add(user)
    session.flush()
    return user


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
    user = session.scalar(select(User).where(User.email == email))
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
    )
