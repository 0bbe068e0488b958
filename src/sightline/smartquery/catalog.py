"""The named queries of `GET /mm-apis/smartQuery`: the single list the API, the docs and the tests read."""

from __future__ import annotations

from functools import partial

from sightline.query.pipeline import Compiled
from sightline.smartquery import audience, binges, content, paths, stored_days, subscribers
from sightline.smartquery.spec import NamedQuerySpec, RowLabels, SmartQuery

NAMED_QUERIES: dict[str, NamedQuerySpec] = {
    spec.name: spec
    for spec in (
        NamedQuerySpec(
            "contentpaths",
            "Content paths",
            "What do viewers watch in a row: which titles lead to which, the most common paths through the "
            "catalogue, and where viewers stop?",
            paths.COLUMNS,
            paths.DEFINITIONS,
            "paths, transitions, exits; each by count",
            paths.build,
            name_page=paths.name_page,
            plan=partial(stored_days.plan, paths.DAYS),
        ),
        NamedQuerySpec(
            "subscriberinsight",
            "Subscriber insight",
            "Who are our subscribers: how much and what each one watches, on which devices, with what "
            "experience — and who is engaged, new, returning or at risk of leaving?",
            subscribers.INSIGHT_COLUMNS,
            subscribers.INSIGHT_DEFINITIONS,
            "play time",
            subscribers.build_insight,
            name_page=subscribers.name_insight_page,
            lookback=subscribers.LOOKBACK,
            labels=RowLabels(subscribers.LABEL_KEYS, subscribers.LABELLED, subscribers.label_subscribers),
            plan=partial(stored_days.plan, subscribers.DAYS),
        ),
        NamedQuerySpec(
            "subscribercohorts",
            "Subscriber cohorts",
            "How big is each subscriber cohort (engaged, new, returning, at risk), how much does it watch and "
            "what experience does it get?",
            subscribers.COHORT_COLUMNS,
            subscribers.COHORT_DEFINITIONS_ALL,
            "atrisk, new, engaged, returning",
            subscribers.build_cohorts,
            lookback=subscribers.LOOKBACK,
            plan=partial(stored_days.plan, subscribers.DAYS),
        ),
        NamedQuerySpec(
            "topcontent",
            "Top content",
            "Which titles are watched most, by how many viewers, and how well do they play?",
            content.TOP_COLUMNS,
            content.TOP_DEFINITIONS,
            "play time",
            content.build_top,
        ),
        NamedQuerySpec(
            "contentengagement",
            "Content engagement",
            "How far into each title do viewers get: what share of plays reaches 25, 50, 75 and 100 %, and "
            "where do they drop off?",
            content.ENGAGEMENT_COLUMNS,
            content.ENGAGEMENT_DEFINITIONS,
            "plays",
            content.build_engagement,
        ),
        NamedQuerySpec(
            "bingesessions",
            "Binge sessions",
            "Which series do viewers binge, how often, and for how many episodes?",
            binges.COLUMNS,
            binges.DEFINITIONS,
            "binges",
            binges.build,
        ),
        NamedQuerySpec(
            "newvsreturning",
            "New vs returning viewers",
            "How many viewers are new and how many come back, over time, and how much does each group watch?",
            audience.COLUMNS,
            audience.DEFINITIONS,
            "time",
            audience.build,
            lookback=audience.LOOKBACK,
            uses_granularity=True,
        ),
    )
}


def compile_named(query: SmartQuery) -> Compiled:
    """The rows of a named query (its spec's build) and the SELECT around a page that names them (`name_page`)."""
    spec = NAMED_QUERIES[query.name]
    around = None if spec.name_page is None else partial(spec.name_page, query)
    return Compiled(spec.build(query), around_page=around)
