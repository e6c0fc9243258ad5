import pytest

from sandbox.scanning.cvss import base_score, severity_of
from sandbox.scanning.versions import Version


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", 7.4),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_base_scores_match_the_specification(vector, score):
    assert base_score(vector) == score


def test_severity_bands():
    assert [severity_of(s) for s in (9.0, 8.9, 7.0, 4.0, 3.9, 0.0)] == [
        "critical",
        "high",
        "high",
        "medium",
        "low",
        "none",
    ]


def test_a_malformed_vector_is_refused():
    with pytest.raises(ValueError):
        base_score("AV:N/AC:L")
    with pytest.raises(ValueError):
        base_score("CVSS:3.1/AV:N/AC:L")


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("5.3.1", "5.4"),
        ("4.17.15", "4.17.19"),
        ("1.9", "1.10"),
        ("2.0-beta9", "2.0-rc1"),
        ("2.0-rc1", "2.0"),
        ("v3.2.0+incompatible", "4.0.0-preview1"),
        ("v0.0.0-20200622213623-75b288015ac9", "0.0.0-20201216223049-8b5274cf687f"),
    ],
)
def test_versions_order_numerically_with_pre_releases_first(lower, higher):
    assert Version(lower) < Version(higher)
    assert not Version(higher) < Version(lower)


def test_trailing_zeros_do_not_change_a_version():
    assert Version("2.31") == Version("2.31.0")
