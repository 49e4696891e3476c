"""Users of the caller's tenant, for its owner (``user.manage``; reading also
``user.read``). HTTP only: the rules (roles, customer links, the last owner, audit) are in
``cloud.tenancy.service``. A user of another tenant answers 404, like a missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from cloud.api.deps import DbSession, allowed
from cloud.api.params import IdPath
from cloud.permissions import Action
from cloud.tenancy import service
from cloud.tenancy.schemas import PasswordIssued, UserCreate, UserCreated, UserRead, UserUpdate
from cloud.tenancy.service import Principal

router = APIRouter(prefix="/api/v1/users", tags=["users"])

Reader = Annotated[Principal, Depends(allowed(Action.USER_READ))]
Manager = Annotated[Principal, Depends(allowed(Action.USER_MANAGE))]
NO_STORE = {"Cache-Control": "no-store"}
"""On responses that carry a password."""


@router.get("", response_model=list[UserRead])
def list_users(session: DbSession, principal: Reader) -> list[UserRead]:
    """The tenant's users, by e-mail address."""
    return [UserRead.of(u) for u in service.list_users(session, tenant_id=principal.tenant_id)]


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, session: DbSession, principal: Manager, response: Response
) -> UserCreated:
    """Add a user. Without ``password`` one is generated and returned in this response only."""
    new = service.add_user(
        session,
        tenant_id=principal.tenant_id,
        email=body.email,
        name=body.name,
        roles=[r.value for r in body.roles],
        customer_id=body.customer_id,
        locale=body.locale,
        password=body.password,
        by_user_id=principal.user_id,
    )
    response.headers.update(NO_STORE)
    return UserCreated(**UserRead.of(new.user).model_dump(), password=new.password)


@router.get("/{user_id}", response_model=UserRead)
def get_user(user_id: IdPath, session: DbSession, principal: Reader) -> UserRead:
    return UserRead.of(service.get_user(session, tenant_id=principal.tenant_id, user_id=user_id))


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={409: {"description": "the tenant would have no active owner left"}},
)
def update_user(
    user_id: IdPath, body: UserUpdate, session: DbSession, principal: Manager
) -> UserRead:
    """Change name, roles, active state, language or (for a customer user) customer.
    Disabling ends the user's logins."""
    user = service.update_user(
        session,
        tenant_id=principal.tenant_id,
        user_id=user_id,
        changes=body,
        by_user_id=principal.user_id,
    )
    return UserRead.of(user)


@router.post(
    "/{user_id}/disable",
    response_model=UserRead,
    responses={409: {"description": "the last active owner cannot be disabled"}},
)
def disable_user(user_id: IdPath, session: DbSession, principal: Manager) -> UserRead:
    """No more logins for this user; its tokens stop working at once."""
    user = service.disable_user(
        session, tenant_id=principal.tenant_id, user_id=user_id, by_user_id=principal.user_id
    )
    return UserRead.of(user)


@router.post("/{user_id}/reset-password", response_model=PasswordIssued)
def reset_password(
    user_id: IdPath, session: DbSession, principal: Manager, response: Response
) -> PasswordIssued:
    """A new generated password, in this response only; the user's logins end."""
    password = service.reset_password(
        session, tenant_id=principal.tenant_id, user_id=user_id, by_user_id=principal.user_id
    )
    response.headers.update(NO_STORE)
    return PasswordIssued(user_id=user_id, password=password)
