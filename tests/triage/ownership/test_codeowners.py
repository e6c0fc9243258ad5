"""CODEOWNERS patterns and precedence, as GitHub documents them."""

import pytest

from triage.codeowners import (
    PatternError,
    codeowners_parse,
    owner_for_path,
    pattern_regex,
)

FILE = """\
# Everything, unless a later line says otherwise
*                       @platform
*.js                    @frontend
/build/logs/            @ops
docs/*                  @writers
apps/                   @apps
/scripts/               @ops
**/secrets              @security
src/payments/**/*.py    @payments
src/payments/legacy.py
\\#notes.md             @writers
"""

# (path, the owner of the last matching line; None for a line without owners)
PRECEDENCE = [
    ("README.md", "@platform"),
    ("src/app.py", "@platform"),
    ("web/static/app.js", "@frontend"),
    ("app.js", "@frontend"),
    ("web/app.jsx", "@platform"),
    ("build/logs/today.log", "@ops"),
    ("build/logs/2026/today.log", "@ops"),
    ("lib/build/logs/today.log", "@platform"),
    ("docs/getting-started.md", "@writers"),
    ("docs/build-app/troubleshooting.md", "@platform"),
    ("docs/app.js", "@writers"),
    ("apps/api/main.py", "@apps"),
    ("deep/nested/apps/main.py", "@apps"),
    ("apps", "@platform"),
    ("scripts/deploy.sh", "@ops"),
    ("tools/scripts/deploy.sh", "@platform"),
    ("secrets/key.pem", "@security"),
    ("deeply/nested/secrets/key.pem", "@security"),
    ("config/secrets.yaml", "@platform"),
    ("src/payments/api.py", "@payments"),
    ("src/payments/cards/visa.py", "@payments"),
    ("src/payments/cards/visa.js", "@frontend"),
    ("src/payments/legacy.py", None),
    ("#notes.md", "@writers"),
]


@pytest.fixture(scope="module")
def rules():
    lines, errors = codeowners_parse(FILE)
    assert errors == []
    return [
        (pattern_regex(line.pattern), line.owners[0] if line.owners else None) for line in lines
    ]


@pytest.mark.parametrize(("path", "owner"), PRECEDENCE)
def test_the_last_matching_line_wins(rules, path, owner):
    assert owner_for_path(rules, path) == owner


def test_a_path_no_line_matches_has_no_owner():
    rules = [(pattern_regex("/docs/"), "@writers")]
    assert owner_for_path(rules, "src/app.py") is None


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("a?c.py", "x/abc.py", True),
        ("a?c.py", "x/ac.py", False),
        ("/src/*.py", "src/app.py", True),
        ("/src/*.py", "src/sub/app.py", False),
        ("src/app.py", "src/app.py", True),
        # A slash inside the pattern anchors it at the root.
        ("src/app.py", "lib/src/app.py", False),
        ("app.py", "lib/src/app.py", True),
        ("docs/**", "docs/a/b.md", True),
        ("docs/**", "docs", False),
        ("**/test_*.py", "tests/unit/test_app.py", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("*.PY", "app.py", False),
        ("file.with.dots", "xfileqwithqdots", False),
    ],
)
def test_pattern_syntax(pattern, path, matches):
    assert bool(pattern_regex(pattern).match(path)) is matches


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("!docs/", "negated"),
        ("docs/[ab].md", "character ranges"),
        ("/", "names no path"),
        ("a//b", "empty path segment"),
        ("a/**b", "whole path segment"),
    ],
)
def test_patterns_codeowners_cannot_hold_say_why(pattern, words):
    with pytest.raises(PatternError, match=words):
        pattern_regex(pattern)


def test_each_bad_line_is_named_with_its_number_and_what_is_wrong():
    text = (
        "# owners\n"
        "*.py @backend\n"
        "!vendor/ @backend\n"
        "\n"
        "docs/ @writers @editors\n"
        "web/ backend\n"
        "@backend\n"
        "api/ @api  # the API squad\n"
    )

    lines, errors = codeowners_parse(text)

    assert [(line.number, line.pattern, line.owners) for line in lines] == [
        (2, "*.py", ("@backend",)),
        (8, "api/", ("@api",)),
    ]
    assert [error.number for error in errors] == [3, 5, 6, 7]
    assert "negated" in str(errors[0]) and str(errors[0]).startswith("Line 3: ")
    assert "2 owners" in errors[1].message
    assert "'backend' is not an owner" in errors[2].message
    assert "looks like an owner" in errors[3].message
