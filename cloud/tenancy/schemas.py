"""Tenant and user input/output, shared by the API, the web pages and the command line (the
CLI validates its options with the same models, so both refuse the same input)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud.permissions import Role
from cloud.types import DbId, NoNul

if TYPE_CHECKING:
    from cloud.tenancy.models import User

Locale = Literal["nl", "en"]
"""The languages of the web pages (``User.locale``); Dutch is the default."""

TENANT_SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
"""Lower-case letters, digits and inner '-': the slug is part of URLs (the webshop webhook)."""

TenantSlug = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=TENANT_SLUG_PATTERN), NoNul
]
TenantName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
    NoNul,
]
UserName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
Password = Annotated[str, StringConstraints(min_length=12, max_length=200), NoNul]
"""A password chosen by a person: at least 12 characters (the login accepts up to 200)."""
Roles = Annotated[list[Role], Field(min_length=1, max_length=len(Role))]


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: TenantSlug
    name: TenantName


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: UserName | None = Field(default=None, description="defaults to the e-mail address")
    roles: Roles
    customer_id: DbId | None = Field(
        default=None, description="required for a customer user, and only for one"
    )
    locale: Locale = "nl"
    password: Password | None = Field(
        default=None,
        description="leave out to have one generated (it is in the response, once)",
    )


_NOT_NULL = ("name", "roles", "is_active", "locale")


class UserUpdate(BaseModel):
    """Only the fields sent change; ``customer_id: null`` unlinks a customer."""

    model_config = ConfigDict(extra="forbid")

    name: UserName | None = None
    roles: Roles | None = None
    is_active: bool | None = None
    locale: Locale | None = None
    customer_id: DbId | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> UserUpdate:
        nulls = [f for f in _NOT_NULL if f in self.model_fields_set and getattr(self, f) is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null")
        return self


class UserRead(BaseModel):
    id: int
    email: str
    name: str
    roles: list[str]
    is_active: bool
    customer_id: int | None
    locale: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserRead:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            roles=sorted(user.role_names),
            is_active=user.is_active,
            customer_id=user.customer_id,
            locale=user.locale,
            created_at=user.created_at,
        )


class UserCreated(UserRead):
    password: str | None = Field(
        description="the generated password, shown this once (null when the request set one)"
    )


class PasswordIssued(BaseModel):
    user_id: int
    password: str = Field(description="the new password, shown this once")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)


class PasswordChange(BaseModel):
    """A user changes its own password: the current one, and a new one of 12 characters or
    more."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=200)
    new_password: Password


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_at: datetime | None


class Me(BaseModel):
    user_id: int
    tenant_id: int
    email: str
    name: str
    roles: list[str]
    customer_id: int | None
    locale: str
    actions: list[str] = Field(
        description="what this user may do: the ``cloud.permissions.Action`` values of its roles"
    )
