"""`GET /mm-apis/whoami/{customerId}`: the caller's customer, plan level and allowed features."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from sightline.api.access import access
from sightline.api.deps import CurrentPrincipal, CustomerScope
from sightline.auth.plans import CUSTOMER, plan_for

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
