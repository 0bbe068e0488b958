"""The AI alerts API: alert rules (`/mm-apis/alertrules/{customerId}`), and alerts (`/mm-apis/getAIAlerts`).

Every route needs the plan feature `alerts`. Rules: admins write (POST, PUT, DELETE), users and API keys of the
customer read. A rule of another customer is a 404, as is one that does not exist. Rules are validated against the
catalog (`alerts.rules`): a bad field is a 400 naming it and what it allows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from sightline.alerts.rules import RuleInput, rule_json
from sightline.alerts.store import RuleNotFoundError, RuleStore
from sightline.api.access import access
from sightline.api.deps import CurrentPrincipal, CustomerScope
from sightline.api.errors import ApiError, invalid_parameter
from sightline.auth.access import CustomerContext
from sightline.auth.kinds import Role
from sightline.auth.plans import ADMIN, CUSTOMER, Feature
from sightline.query.pipeline import RequestError

router = APIRouter(prefix="/mm-apis", tags=["alerts"])
RuleId = Annotated[str, Path(alias="ruleId", description="The rule's id.", max_length=64)]


async def alerts_scope(scope: CustomerScope) -> CustomerContext:
    """The customer, whose plan must allow alerts (403 otherwise)."""
    scope.require(Feature.ALERTS)
    return scope


async def admin_scope(scope: CustomerScope, principal: CurrentPrincipal) -> CustomerContext:
    """The customer, for an admin of it (a user: an API key reads as a viewer), whose plan allows alerts."""
    if principal.kind != "user" or principal.role is not Role.ADMIN:
        raise ApiError(403, "admin_required", "only an admin of the customer may change its alert rules")
    scope.require(Feature.ALERTS)
    return scope


AlertsScope = Annotated[CustomerContext, Depends(alerts_scope)]
AdminScope = Annotated[CustomerContext, Depends(admin_scope)]


def _rules(request: Request) -> RuleStore:
    rules: RuleStore = request.app.state.alert_rules
    return rules


def _not_found(error: RuleNotFoundError) -> ApiError:
    return ApiError(404, "not_found", str(error), "ruleId")


@router.get("/alertrules/{customerId}", summary="The customer's alert rules", **access(CUSTOMER))
def list_rules(scope: AlertsScope, request: Request) -> dict[str, Any]:
    """Every alert rule of the customer (a new customer's are the default AI rules)."""
    return {"rules": [rule_json(rule) for rule in _rules(request).rules(scope.id)]}


@router.post("/alertrules/{customerId}", status_code=201, summary="Add an alert rule", **access(ADMIN))
def add_rule(scope: AdminScope, request: Request, given: RuleInput) -> dict[str, Any]:
    """A new rule; the answer is the rule with its id."""
    try:
        return rule_json(_rules(request).add(scope.id, given))
    except RequestError as error:
        raise invalid_parameter(error) from error


@router.get("/alertrules/{customerId}/{ruleId}", summary="One alert rule", **access(CUSTOMER, 404))
def get_rule(scope: AlertsScope, request: Request, rule_id: RuleId) -> dict[str, Any]:
    try:
        return rule_json(_rules(request).rule(scope.id, rule_id))
    except RuleNotFoundError as error:
        raise _not_found(error) from error


@router.put("/alertrules/{customerId}/{ruleId}", summary="Replace an alert rule", **access(ADMIN, 404))
def replace_rule(scope: AdminScope, request: Request, rule_id: RuleId, given: RuleInput) -> dict[str, Any]:
    """The rule replaced by the one sent; a webhook recipient sent without its secret keeps the one it had."""
    try:
        return rule_json(_rules(request).replace(scope.id, rule_id, given))
    except RuleNotFoundError as error:
        raise _not_found(error) from error
    except RequestError as error:
        raise invalid_parameter(error) from error


@router.delete(
    "/alertrules/{customerId}/{ruleId}", status_code=204, summary="Delete an alert rule", **access(ADMIN, 404)
)
def delete_rule(scope: AdminScope, request: Request, rule_id: RuleId) -> Response:
    """Delete the rule; its alerts stay listed, those still going on end now."""
    try:
        _rules(request).delete(scope.id, rule_id)
    except RuleNotFoundError as error:
        raise _not_found(error) from error
    return Response(status_code=204)
