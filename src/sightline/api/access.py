"""Who may call each route, as the route itself declares it, and the error answers that follow.

Every route of the app is declared with `**access(rule, statuses…)`: its `AccessRule` (auth/plans.py) goes
into its OpenAPI operation as `x-access`, and its error answers into `responses` — the 401 and 403 the rule
implies, and the route's own. `route_access` reads the rules back from the app's route table, for
docs/plans.md and the route × role test; a route without a rule is an error there, so none is forgotten.
The rule is what the route enforces (its dependencies and checks); the route × role test holds them to it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Route

from sightline.api.errors import error_responses
from sightline.auth.plans import (
    ACCESS_RULES,
    ADMIN,
    CUSTOMER,
    INGEST,
    OPERATOR,
    OWNER_OR_ADMIN,
    PUBLIC,
    SIGNED_IN,
    AccessRule,
    RouteAccess,
)

ACCESS_KEY = "x-access"
"""The OpenAPI extension of an operation that names its access rule."""

_IMPLIED: dict[str, tuple[int, ...]] = {
    SIGNED_IN.name: (401,),
    CUSTOMER.name: (400, 401, 403),  # 400: a customerId or planlevel that is not a number
    OWNER_OR_ADMIN.name: (400, 401, 403),
    ADMIN.name: (400, 401, 403),
    INGEST.name: (401,),
    OPERATOR.name: (401, 403),  # 403: no metrics_token is set
}


def access(
    rule: AccessRule,
    *statuses: int,
    descriptions: dict[int, str] | None = None,
    responses: dict[int | str, dict[str, Any]] | None = None,
    openapi_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of a route decorator: the rule, and the error answers the rule implies and
    `statuses` (each described as `descriptions` says, or in the usual words), with the route's other
    `responses` and `openapi_extra`."""
    answered = sorted(set(_IMPLIED.get(rule.name, ())) | set(statuses))
    return {
        "openapi_extra": {**(openapi_extra or {}), ACCESS_KEY: rule.name},
        "responses": {**error_responses(*answered, descriptions=descriptions), **(responses or {})},
    }


def request_body(schema: dict[str, Any], *media_types: str) -> dict[str, Any]:
    """The `openapi_extra` of a route that reads its body itself: the body, required, as any of `media_types`,
    of `schema` (a JSON schema; its `$defs` written in place, as an OpenAPI document resolves `#/$defs`
    against itself)."""
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items() if key != "$defs"}
        return [inline(item) for item in node] if isinstance(node, list) else node

    content = {"schema": inline(schema)}
    return {"requestBody": {"required": True, "content": dict.fromkeys(media_types, content)}}


def route_access(app: FastAPI) -> list[RouteAccess]:
    """Every route of `app`, one per method (HEAD too, and those left out of the OpenAPI document), with its
    rule; FastAPI's own pages (the OpenAPI document, /docs) are public. ValueError naming a route of ours
    that declares no rule."""
    routes = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path or ""
        if isinstance(route, APIRoute):
            name = (route.openapi_extra or {}).get(ACCESS_KEY)
            if name not in ACCESS_RULES:
                raise ValueError(f"route {path} declares no access rule: add **access(...) to its decorator")
            rule = ACCESS_RULES[name]
        elif isinstance(route, Route):
            rule = PUBLIC
        else:
            continue
        routes += [RouteAccess(method, path, rule) for method in sorted(context.methods or ())]
    return routes
