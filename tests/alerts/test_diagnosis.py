"""Within an alert's cohort, causes that are pieces of it (two or more holding most of its expected amount) give
way to the cohort: the CDN × country incident spread over its ISPs and connection types is named by the cohort, not
by four of its pieces (pure: leaves built by hand)."""

from __future__ import annotations

from itertools import product

import numpy as np

from sightline.alerts.diagnose import Cause
from sightline.alerts.diagnose_leaves import Leaves, additive_leaves, coded
from sightline.alerts.diagnosis import Diagnosis, pieces

ISPS = ("Comcast", "Charter Spectrum", "T-Mobile", "AT&T")
CONNECTIONS = ("wifi", "cellular")


def cohort_leaves() -> Leaves:
    """ISP × connection type leaves of one cohort, each expecting 10 (T-Mobile ∧ wifi 30)."""
    rows = list(product(ISPS, CONNECTIONS))
    expected = np.array([30.0 if row == ("T-Mobile", "wifi") else 10.0 for row in rows])
    columns = [np.array([row[j] for row in rows]) for j in range(2)]
    return additive_leaves(("isp", "connectiontype"), columns, expected * 5, expected, counts=False)


def cause(*conditions: tuple[str, str]) -> Cause:
    return Cause(conditions, 0.0, 0.0, 0.0, 1, 0.25, 30.0)


def test_causes_holding_most_of_the_cohort_are_its_pieces() -> None:
    found = [cause(("isp", "T-Mobile"), ("connectiontype", "wifi")), cause(("isp", "Comcast")), cause(("isp", "AT&T"))]
    assert pieces(found, cohort_leaves())  # 30 + 20 + 20 of 100 expected


def test_causes_holding_less_than_half_of_the_cohort_are_no_pieces() -> None:
    found = [cause(("isp", "Comcast"), ("connectiontype", "wifi")), cause(("isp", "AT&T"))]
    assert not pieces(found, cohort_leaves())  # 10 + 20 of 100


def test_one_cause_is_no_pieces_however_much_it_holds() -> None:
    assert not pieces([cause(("connectiontype", "wifi"))], cohort_leaves())  # 60 of 100: a cause inside the cohort


def test_overlapping_causes_count_their_leaves_once() -> None:
    found = [cause(("isp", "T-Mobile")), cause(("connectiontype", "wifi"), ("isp", "T-Mobile"))]
    assert not pieces(found, cohort_leaves())  # T-Mobile holds 40 of 100, counted once


def test_combinations_of_nested_views_are_nested_whatever_their_names() -> None:
    leaves = coded(
        ("brand", "platform", "player", "cdn"),
        [
            np.array(["Samsung", "Samsung", "Samsung", "LG", "Apple"]),
            np.array(["Tizen", "Tizen", "Tizen", "webOS", "tvOS"]),
            np.array(["Shaka Player", "Shaka Player", "Shaka Player", "Shaka Player", "AVPlayer"]),
            np.array(["Akamai", "Fastly", "Akamai", "Akamai", "Akamai"]),
        ],
    )
    found = Diagnosis((), 0.0, leaves.codes.shape[0], leaves.dimensions, coded=leaves)
    samsung = (("brand", "Samsung"), ("player", "Shaka Player"))
    tizen = (("platform", "Tizen"),)
    assert found.nested(samsung, tizen)  # the same views
    assert found.nested(tizen, samsung)
    assert found.nested(tizen, (("platform", "Tizen"), ("cdn", "Akamai")))  # some of them
    assert not found.nested(tizen, (("cdn", "Akamai"),))  # views of each outside the other
    assert found.nested(tizen, (("player", "Shaka Player"),))  # Tizen's views are among Shaka Players'
    # no leaf of a combination, or a dimension not looked through: by name
    assert not found.nested(tizen, (("brand", "Roku"),))
    assert found.nested(tizen, (("platform", "Tizen"), ("brand", "Roku")))
    assert found.nested((("drm", "widevine"),), (("drm", "widevine"), ("cdn", "Akamai")))
    assert not found.nested((("drm", "widevine"),), tizen)
    assert Diagnosis((), 0.0, 0, ()).nested(tizen, (("platform", "Tizen"), ("cdn", "Akamai")))
