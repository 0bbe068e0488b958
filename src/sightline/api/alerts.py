"""The AI alerts API: alert rules (`/mm-apis/alertrules/{customerId}`), and alerts (`/mm-apis/getAIAlerts`).

Every route needs the plan feature `alerts`. Rules: admins write (POST, PUT, DELETE), users and API keys of the
customer read. Alerts: users and API keys of the customer list and acknowledge them; admins mute them (a mute
silences every recipient). A rule or an alert of another customer is a 404, as is one that does not exist. Rules
are validated against the catalog (`alerts.rules`): a bad field is a 400 naming it and what it allows.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict

from sightline.alerts.alert_store import AlertNotFoundError, parse_alerts_request
from sightline.alerts.rules import RuleInput, rule_json
from sightline.alerts.store import RuleNameTakenError, RuleNotFoundError
from sightline.api.access import access
from sightline.api.deps import AlertRulesDep, AlertsDep, CurrentPrincipal, CustomerScope
from sightline.api.errors import ApiError, invalid_parameter
from sightline.auth.access import CustomerContext, Principal
from sightline.auth.kinds import Role
from sightline.auth.plans import ADMIN, CUSTOMER, Feature
from sightline.query.pipeline import RequestError, envelope

router = APIRouter(prefix="/mm-apis", tags=["alerts"])
RuleId = Annotated[str, Path(alias="ruleId", description="The rule's id.", max_length=64)]


async def alerts_scope(scope: CustomerScope) -> CustomerContext:
    """The customer, whose plan must allow alerts (403 otherwise)."""
    scope.require(Feature.ALERTS)
    return scope


def _admin(principal: Principal) -> bool:
    """Whether `principal` is an admin user (an API key reads as a viewer)."""
    return principal.kind == "user" and principal.role is Role.ADMIN


async def admin_scope(scope: CustomerScope, principal: CurrentPrincipal) -> CustomerContext:
    """The customer, for an admin of it, whose plan allows alerts."""
    if not _admin(principal):
        message = "only an admin of the customer (a user, not an API key) may change its alert rules or mute its alerts"
        raise ApiError(403, "admin_required", message)
    scope.require(Feature.ALERTS)
    return scope


AlertsScope = Annotated[CustomerContext, Depends(alerts_scope)]
AdminScope = Annotated[CustomerContext, Depends(admin_scope)]


def _not_found(error: RuleNotFoundError) -> ApiError:
    return ApiError(404, "not_found", str(error), "ruleId")


def _name_taken(error: RuleNameTakenError) -> ApiError:
    return ApiError(409, "name_taken", str(error), "name")


@router.get("/alertrules/{customerId}", summary="The customer's alert rules", **access(CUSTOMER))
def list_rules(scope: AlertsScope, principal: CurrentPrincipal, rules: AlertRulesDep) -> dict[str, Any]:
    """Every alert rule of the customer (a new customer's are the default AI rules); recipients' URLs whole to admins
    only."""
    return {"rules": [rule_json(rule, targets=_admin(principal)) for rule in rules.rules(scope.id)]}


NAME_TAKEN = {409: "Another rule of the customer has that name."}


@router.post(
    "/alertrules/{customerId}",
    status_code=201,
    summary="Add an alert rule",
    **access(ADMIN, 409, descriptions=NAME_TAKEN),
)
def add_rule(scope: AdminScope, rules: AlertRulesDep, given: RuleInput) -> dict[str, Any]:
    """A new rule; the answer is the rule with its id (409 when another rule of the customer has its name)."""
    try:
        return rule_json(rules.add(scope.id, given))
    except RuleNameTakenError as error:
        raise _name_taken(error) from error
    except RequestError as error:
        raise invalid_parameter(error) from error


@router.get("/alertrules/{customerId}/{ruleId}", summary="One alert rule", **access(CUSTOMER, 404))
def get_rule(scope: AlertsScope, principal: CurrentPrincipal, rules: AlertRulesDep, rule_id: RuleId) -> dict[str, Any]:
    """The rule; its recipients' URLs whole to admins only."""
    try:
        return rule_json(rules.rule(scope.id, rule_id), targets=_admin(principal))
    except RuleNotFoundError as error:
        raise _not_found(error) from error


@router.put(
    "/alertrules/{customerId}/{ruleId}",
    summary="Replace an alert rule",
    **access(ADMIN, 404, 409, descriptions=NAME_TAKEN),
)
def replace_rule(scope: AdminScope, rules: AlertRulesDep, rule_id: RuleId, given: RuleInput) -> dict[str, Any]:
    """The rule replaced by the one sent; a webhook recipient sent without its secret keeps the one it had, unless
    `hassecret` is false. Disabling a rule resolves its alerts going on."""
    try:
        return rule_json(rules.replace(scope.id, rule_id, given))
    except RuleNotFoundError as error:
        raise _not_found(error) from error
    except RuleNameTakenError as error:
        raise _name_taken(error) from error
    except RequestError as error:
        raise invalid_parameter(error) from error


@router.delete(
    "/alertrules/{customerId}/{ruleId}", status_code=204, summary="Delete an alert rule", **access(ADMIN, 404)
)
def delete_rule(scope: AdminScope, rules: AlertRulesDep, rule_id: RuleId) -> Response:
    """Delete the rule; its alerts stay listed, those still going on resolved (ending at their last anomalous
    interval)."""
    try:
        rules.delete(scope.id, rule_id)
    except RuleNotFoundError as error:
        raise _not_found(error) from error
    return Response(status_code=204)


AlertId = Annotated[str, Path(alias="alertId", description="The alert's id.", max_length=64)]


def _alert_not_found(error: AlertNotFoundError) -> ApiError:
    return ApiError(404, "not_found", str(error), "alertId")


@router.get("/getAIAlerts/{customerId}", summary="The customer's AI alerts", **access(CUSTOMER))
def get_ai_alerts(
    scope: AlertsScope,
    alerts: AlertsDep,
    period: Annotated[str, Query(description="`start=<epoch s>,end=<epoch s>`: alerts going on in it.")],
    status: Annotated[str | None, Query(description="open, ongoing and/or resolved (comma-separated).")] = None,
    severity: Annotated[str | None, Query(description="critical, major and/or warning (comma-separated).")] = None,
    metric: Annotated[str | None, Query(description="Alertable metrics (comma-separated).")] = None,
    rule: Annotated[str | None, Query(description="Rule ids (comma-separated).")] = None,
    orderby: Annotated[
        str | None, Query(description="start (default), lastseen, end, severity, metric or status.")
    ] = None,
    order: Annotated[str | None, Query(description="asc or desc (default).")] = None,
    limit: Annotated[int | None, Query(description="Alerts per page, 1 to 1000 (100).")] = None,
    offset: Annotated[int, Query(description="Alerts to skip.")] = 0,
) -> Response:
    """The alerts of the customer going on at some time in `period`, in the query API's envelope; each with its
    state, values, impact, diagnosis, series and the requests that reproduce it (docs/alerts.md)."""
    try:
        parsed = parse_alerts_request(
            scope.id,
            period=period,
            status=status,
            severity=severity,
            metric=metric,
            rule=rule,
            orderby=orderby,
            order=order,
            limit=limit,
            offset=offset,
        )
        rows, total = alerts.page(parsed)
    except RequestError as error:
        raise invalid_parameter(error) from error
    return Response(envelope(rows, total, parsed.limit), media_type="application/json")


class MuteInput(BaseModel):
    """How long to mute an alert's notifications: 0 lifts a mute."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seconds: int = 3600


@router.post(
    "/getAIAlerts/{customerId}/{alertId}/acknowledge",
    summary="Acknowledge an alert",
    **access(CUSTOMER, 404),
)
def acknowledge_alert(
    scope: AlertsScope, principal: CurrentPrincipal, alerts: AlertsDep, alert_id: AlertId
) -> Response:
    """Acknowledge the alert: its escalations and widenings notify nobody (its resolve still does). The alert as
    answered."""
    try:
        body = alerts.acknowledge(scope.id, alert_id, principal.subject)
    except AlertNotFoundError as error:
        raise _alert_not_found(error) from error
    return Response(body, media_type="application/json")


@router.post("/getAIAlerts/{customerId}/{alertId}/mute", summary="Mute an alert", **access(ADMIN, 404))
def mute_alert(
    scope: AdminScope,
    principal: CurrentPrincipal,
    alerts: AlertsDep,
    alert_id: AlertId,
    given: MuteInput | None = None,
) -> Response:
    """Mute the alert's notifications for `seconds` (an hour without a body; at most 30 days; 0 unmutes). The
    alert as answered."""
    seconds = MuteInput().seconds if given is None else given.seconds
    try:
        body = alerts.mute(scope.id, alert_id, seconds, principal.subject)
    except AlertNotFoundError as error:
        raise _alert_not_found(error) from error
    except RequestError as error:
        raise invalid_parameter(error) from error
    return Response(body, media_type="application/json")
