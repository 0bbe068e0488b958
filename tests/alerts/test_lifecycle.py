"""The lifecycle of alerts (pure): which open alerts a round continues, leaves quiet or resolves, which cohorts
become new alerts, where the diagnosis points them, severity and the recipients of each level."""

from __future__ import annotations

import math

from sightline.alerts.lifecycle import (
    RESOLVE_AFTER,
    AlertState,
    higher,
    magnitude,
    notice_key,
    owner,
    plan_round,
    recipients_for,
    related,
    severity,
    targets,
)
from sightline.alerts.notify import Recipient
from sightline.alerts.rules import Cohort

CDN: Cohort = (("cdn", "Akamai"),)
US: Cohort = (("country", "US"),)
CDN_US: Cohort = (("cdn", "Akamai"), ("country", "US"))
TV: Cohort = (("device", "tv"),)


def _alert(cohort: Cohort, clean: int = 0, **fields: object) -> AlertState:
    return AlertState(
        id=f"a-{cohort}",
        cohort=cohort,
        status="ongoing",
        severity="warning",
        started_at=0,
        last_seen_at=300,
        clean_intervals=clean,
        **fields,  # type: ignore[arg-type]
    )


def test_an_alert_goes_on_while_its_cohort_is_anomalous_and_is_never_opened_twice() -> None:
    alert = _alert(CDN_US)
    plan = plan_round([alert], continuing={CDN_US}, reported=[CDN_US])
    assert [a.id for a, _ in plan.active] == [alert.id]
    assert plan.candidates == ()
    assert plan.quiet == ()
    assert plan.resolved == ()


def test_a_reported_cohort_related_to_an_open_alert_is_its_own() -> None:
    alert = _alert(CDN_US)
    plan = plan_round([alert], continuing={CDN}, reported=[CDN])  # the broader cohort: the same incident
    assert [(a.id, mine) for a, mine in plan.active] == [(alert.id, frozenset({CDN}))]
    assert plan.candidates == ()
    caused = _alert(US, causes=(CDN_US,))
    assert plan_round([caused], continuing=set(), reported=[CDN_US]).candidates == ()


def test_a_new_anomaly_whose_cause_an_open_alert_has_is_that_alert_s() -> None:
    samsung: Cohort = (("brand", "Samsung"), ("player", "Shaka Player"))
    versioned = _alert((("brand", "Samsung"), ("playerversion", "4.8.3")), causes=(samsung,))
    other = _alert(TV)
    akamai_shaka: Cohort = (("cdn", "Akamai"), ("player", "Shaka Player"))
    assert owner([other, versioned], akamai_shaka) is None  # neither covers the cohort
    assert owner([other, versioned], akamai_shaka, [(*samsung, ("streamtype", "vod"))]) is versioned
    assert owner([other, versioned], akamai_shaka, [akamai_shaka]) is None  # another cause: another incident
    assert owner([other, versioned], (*TV, ("country", "GB")), [samsung]) is other  # the cohort first
    tizen: Cohort = (("platform", "Tizen"),)  # Samsung's TVs: by name, no relation of `samsung`

    def same_views(one: Cohort, another: Cohort) -> bool:
        return {one, another} <= {samsung, tizen} or related(one, another)

    assert owner([other, versioned], akamai_shaka, [tizen]) is None
    assert owner([other, versioned], akamai_shaka, [tizen], same_views) is versioned


def test_a_quiet_alert_that_owns_a_new_anomaly_goes_on() -> None:
    fr: Cohort = (("country", "FR"),)
    quiet, resolving, going = _alert(CDN, clean=2), _alert(US, clean=5), _alert(TV)
    plan = plan_round([quiet, resolving, going], continuing={TV}, reported=[TV, fr])
    assert plan.quiet == (quiet,)
    assert plan.resolved == (resolving,)
    taken = plan.taking({quiet.id: frozenset({fr}), going.id: frozenset({US})})
    assert [(a.id, mine) for a, mine in taken.active] == [
        (going.id, frozenset({TV, US})),
        (quiet.id, frozenset({fr})),
    ]
    assert taken.quiet == ()
    assert taken.resolved == (resolving,)


def test_an_unrelated_anomaly_is_a_candidate_and_the_quiet_alert_counts_clean_intervals() -> None:
    alert = _alert(CDN_US)
    plan = plan_round([alert], continuing={TV}, reported=[TV])
    assert plan.candidates == (TV,)
    assert plan.quiet == (alert,)
    assert plan.active == ()


def test_an_alert_is_resolved_after_resolve_after_clean_intervals() -> None:
    assert plan_round([_alert(CDN, clean=RESOLVE_AFTER - 2)], set(), []).resolved == ()
    last = _alert(CDN, clean=RESOLVE_AFTER - 1)
    assert plan_round([last], set(), []).resolved == (last,)


def test_an_alert_whose_cohort_still_fails_unjudged_waits_until_it_is_stale() -> None:
    last = _alert(CDN, clean=RESOLVE_AFTER - 1)  # last anomalous at 300
    plan = plan_round([last], set(), [], failing={CDN}, stale_before=300)  # too few attempts, past its band
    assert (plan.waiting, plan.quiet, plan.resolved) == ((last,), (), ())
    assert plan_round([last], set(), [], failing={CDN}, stale_before=301).resolved == (last,)
    assert plan_round([last], set(), [], failing={US}, stale_before=0).resolved == (last,)  # clean
    assert plan.taking({last.id: frozenset({CDN_US})}).active == ((last, frozenset({CDN_US})),)


def test_targets_follow_the_diagnosis_to_the_narrowest_anomalous_cohort() -> None:
    found = targets(candidates=[CDN, US], causes=[CDN_US], anomalous=[CDN, US, CDN_US], scores={CDN: 9.0, US: 7.0})
    assert [(t.cohort, t.causes, t.covers) for t in found] == [(CDN_US, (CDN_US,), frozenset({CDN, US}))]
    # a cause narrower than any cohort judged: the strongest candidate that holds it
    deep = (("cdn", "Akamai"), ("country", "US"), ("device", "tv"))
    found = targets(candidates=[CDN, US], causes=[deep], anomalous=[CDN, US], scores={CDN: 9.0, US: 7.0})
    assert [(t.cohort, t.covers) for t in found] == [(CDN, frozenset({CDN, US}))]
    # a candidate that cannot hold a cause's views is an alert of its own, without causes
    other: Cohort = (("cdn", "Level3"),)
    found = targets(candidates=[CDN, other], causes=[CDN], anomalous=[CDN, other], scores={})
    assert [(t.cohort, t.causes) for t in found] == [(CDN, (CDN,)), (other, ())]


def test_a_later_cause_only_the_whole_holds_goes_with_the_first_target() -> None:
    exo: Cohort = (("player", "ExoPlayer"),)
    premium_br: Cohort = (("country", "BR"), ("subscribertype", "premium"))
    found = targets(candidates=[(), exo], causes=[exo, premium_br], anomalous=[(), exo], scores={(): 9.0, exo: 8.0})
    assert [(t.cohort, t.causes) for t in found] == [(exo, (exo, premium_br))]
    # the whole as the first cause's target stays the whole's
    found = targets(candidates=[()], causes=[premium_br], anomalous=[()], scores={(): 9.0})
    assert [(t.cohort, t.causes) for t in found] == [((), (premium_br,))]


def test_candidates_without_a_cause_that_share_a_condition_open_one_alert_on_the_broadest() -> None:
    hls: Cohort = (("player", "hls.js"),)
    hls_desktop: Cohort = (("device", "desktop"), ("player", "hls.js"))
    apple_17: Cohort = (("brand", "Apple"), ("playerversion", "17.5"))
    avplayer_17: Cohort = (("player", "AVPlayer"), ("playerversion", "17.5"))
    scores = {hls: 5.0, hls_desktop: 9.0, apple_17: 6.0, avplayer_17: 7.0, TV: 8.0}
    found = targets([hls_desktop, apple_17, TV, hls, avplayer_17], causes=[], anomalous=list(scores), scores=scores)
    assert [(t.cohort, t.causes, t.covers) for t in found] == [
        (TV, (), frozenset()),
        (hls, (), frozenset({hls_desktop})),
        (avplayer_17, (), frozenset({apple_17})),
    ]


def test_severity_from_magnitude_duration_and_viewers() -> None:
    assert severity(magnitude(1.2, 1.0), 300, 3) == "warning"
    assert severity(magnitude(4.0, 1.0), 300, 50) == "major"  # 2 + 0 + 1 points
    assert severity(magnitude(4.0, 1.0), 3600, 500) == "critical"
    assert severity(magnitude(0.2, 1.0), 3600, 500) == "critical"  # a fall is as large as a rise
    assert magnitude(math.nan, 1.0) == 0.0
    assert magnitude(0.0, 0.0) == 0.0
    assert magnitude(5.0, 0.0) > math.log(3.0)  # nothing was expected: as large as it gets
    assert higher("warning", "critical") == "critical"
    assert higher("major", "warning") == "major"


def test_recipients_at_or_below_the_alerts_severity_are_told() -> None:
    noc = Recipient("email", "noc@example.com", "critical")
    team = Recipient("slack", "https://hooks.slack.com/x", "major")
    everyone = Recipient("webhook", "https://example.com/hook", "warning")
    assert recipients_for([noc, team, everyone], "warning") == (everyone,)
    assert recipients_for([noc, team, everyone], "major") == (team, everyone)
    assert recipients_for([noc, team, everyone], "critical") == (noc, team, everyone)
    assert notice_key("a1", "escalate", 2) == "a1:escalate:2" != notice_key("a1", "escalate", 1)


def test_causes_of_one_incident_seen_in_two_combinations_open_one_alert() -> None:
    mobile_cdn_us: Cohort = (("cdn", "Akamai"), ("country", "US"), ("device", "mobile"))
    mobile: Cohort = (("device", "mobile"),)
    found = targets(
        candidates=[CDN_US, mobile], causes=[CDN_US, mobile_cdn_us], anomalous=[CDN_US, mobile], scores={mobile: 9.0}
    )
    assert [(t.cohort, t.causes) for t in found] == [(CDN_US, (CDN_US, mobile_cdn_us))]


def test_a_candidate_an_earlier_cause_took_is_not_the_target_of_a_weaker_one() -> None:
    """`device=desktop ∧ playerversion=1.5.8`, anomalous by its views of the first cause, was also the target of
    the second cause (consistent with it, having no condition on its dimensions): a second alert, diagnosed
    `cdn=Fastly ∧ country=MX`, for one incident (the demo's CDN incident, 2026-12-07)."""
    desktop_158: Cohort = (("device", "desktop"), ("playerversion", "1.5.8"))
    fastly_mx: Cohort = (("cdn", "Fastly"), ("country", "MX"))
    found = targets(
        candidates=[desktop_158], causes=[CDN_US, fastly_mx], anomalous=[CDN_US, desktop_158], scores={CDN_US: 9.0}
    )
    assert [(t.cohort, t.causes, t.covers) for t in found] == [(CDN_US, (CDN_US,), frozenset({desktop_158}))]


def test_a_candidate_sharing_a_condition_with_a_weaker_cause_is_that_causes() -> None:
    """`cdn=Fastly ∧ device=tv` can hold the views of the stronger cause `country=US` (no condition of one dimension
    with two values), but it shares `cdn=Fastly` with the second cause: the CDN's incident is an alert of its own."""
    fastly: Cohort = (("cdn", "Fastly"),)
    fastly_tv: Cohort = (("cdn", "Fastly"), ("device", "tv"))
    found = targets(candidates=[US, fastly_tv], causes=[US, fastly], anomalous=[US, fastly_tv], scores={US: 9.0})
    assert [(t.cohort, t.causes, t.covers) for t in found] == [
        (US, (US,), frozenset({US})),
        (fastly_tv, (fastly,), frozenset({fastly_tv})),
    ]


def test_a_candidate_goes_to_the_cause_whose_views_hold_it_before_one_it_shares_a_condition_with() -> None:
    """`playerversion=1.5.8 ∧ cdn=Akamai` shares `cdn=Akamai` with a small second cause, but its views are views of
    `player=hls.js` (1.5.8 is an hls.js version): the player's start-time incident, one alert (the scenario's
    c1001-12, two alerts before)."""
    hls: Cohort = (("player", "hls.js"),)
    v158_akamai: Cohort = (("playerversion", "1.5.8"), ("cdn", "Akamai"))
    virgin_akamai: Cohort = (("subscribertype", "free"), ("cdn", "Akamai"), ("isp", "Virgin Media"))

    def by_views(one: Cohort, other: Cohort) -> bool:
        return {one, other} == {v158_akamai, hls} or related(one, other)

    found = targets([hls, v158_akamai], [hls, virgin_akamai], [hls, v158_akamai], {hls: 9.0}, by_views)
    assert [(t.cohort, t.causes, t.covers) for t in found] == [(hls, (hls,), frozenset({hls, v158_akamai}))]


def test_a_reported_cohort_overlapping_an_open_alert_is_its_own() -> None:
    exo_131: Cohort = (("player", "ExoPlayer"), ("playerversion", "1.3.1"))
    mobile_131: Cohort = (("device", "mobile"), ("playerversion", "1.3.1"))
    assert plan_round([_alert(exo_131)], set(), [mobile_131]).candidates == ()
    other_version: Cohort = (("device", "mobile"), ("playerversion", "1.4.0"))
    assert plan_round([_alert(exo_131)], set(), [other_version]).candidates == (other_version,)
