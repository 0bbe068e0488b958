"""`GET /mm-apis/whoami/{customerId}`: the caller's customer, plan level and allowed features; `GET
/mm-apis/whoami`: the caller and every customer it may see (the portal's customer switcher)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from sightline.api.access import access
from sightline.api.deps import AuthDep, CurrentPrincipal, CustomerScope
from sightline.auth.errors import CustomerForbiddenError
from sightline.auth.plans import CUSTOMER, SIGNED_IN, plan_for

router = APIRouter(prefix="/mm-apis", tags=["accounts"])


class CallerResponse(BaseModel):
    kind: Literal["user", "api_key"]
    subject: str
    role: str


class WhoAmIResponse(BaseModel):
    customerid: int
    name: str
    planlevel: int
    plan: str
    features: list[str]
    caller: CallerResponse


class CustomerResponse(BaseModel):
    customerid: int
    name: str
    planlevel: int
    plan: str


class CallerCustomersResponse(BaseModel):
    caller: CallerResponse
    customers: list[CustomerResponse]


@router.get("/whoami", response_model=CallerCustomersResponse, **access(SIGNED_IN))
def whoami_customers(principal: CurrentPrincipal, auth: AuthDep) -> CallerCustomersResponse:
    """Who is asking, and the customers it may see (by id), each with its plan level."""
    customers = []
    for customer_id in sorted(principal.customer_ids):
        try:
            scope = auth.access.customer_scope(principal, customer_id)
        except CustomerForbiddenError:  # removed since the token was issued
            continue
        customers.append(CustomerResponse(customerid=scope.id, name=scope.name, planlevel=scope.plan_level,
                                          plan=plan_for(scope.plan_level).name))  # fmt: skip
    return CallerCustomersResponse(
        caller=CallerResponse(kind=principal.kind, subject=principal.subject, role=principal.role.value),
        customers=customers,
    )


@router.get("/whoami/{customerId}", response_model=WhoAmIResponse, **access(CUSTOMER))
def whoami(scope: CustomerScope, principal: CurrentPrincipal) -> WhoAmIResponse:
    """Who is asking, for which customer, and what that customer's plan level allows."""
    return WhoAmIResponse(
        customerid=scope.id,
        name=scope.name,
        planlevel=scope.plan_level,
        plan=plan_for(scope.plan_level).name,
        features=sorted(f.value for f in scope.features),
        caller=CallerResponse(kind=principal.kind, subject=principal.subject, role=principal.role.value),
    )
