import pytest

from sandbox.demo_trees import load_tree
from sandbox.scanning import scan_tree
from sandbox.scanning.cvss import base_score
from sandbox.scanning.sbom import dependencies_in
from tests.sandbox.scanning.trees import line_of

# The vulnerable pins planted in each demo tree's manifest: (marker on the pin's line, CVE, CWE).
PINS = {
    ("acme/payments-api", "requirements.txt"): [
        ("PyYAML==5.3.1", "CVE-2020-14343", "CWE-20"),
        ("requests==2.25.1", "CVE-2023-32681", "CWE-200"),
        ("Jinja2==3.1.2", "CVE-2024-22195", "CWE-79"),
        ("Werkzeug==2.2.2", "CVE-2023-25577", "CWE-770"),
    ],
    ("acme/web-frontend", "package.json"): [
        ('"lodash"', "CVE-2020-8203", "CWE-1321"),
        ('"axios"', "CVE-2020-28168", "CWE-918"),
        ('"minimist"', "CVE-2021-44906", "CWE-1321"),
        ('"express"', "CVE-2024-29041", "CWE-601"),
    ],
    ("acme/inventory-service", "go.mod"): [
        ("gin-gonic/gin", "CVE-2020-28483", "CWE-20"),
        ("dgrijalva/jwt-go", "CVE-2020-26160", "CWE-287"),
        ("golang.org/x/crypto", "CVE-2020-29652", "CWE-476"),
        ("gopkg.in/yaml.v2", "CVE-2019-11254", "CWE-400"),
    ],
}
PLANTED = [(tree, path, *pin) for (tree, path), pins in PINS.items() for pin in pins]


@pytest.mark.parametrize(("tree", "path", "marker", "cve", "cwe"), PLANTED)
def test_each_vulnerable_pin_is_reported_at_its_manifest_line(tree, path, marker, cve, cwe):
    files = load_tree(tree)
    [detection] = [d for d in scan_tree(files, "sbom_scan") if d.check_id == f"sbom.{cve}"]
    assert detection.file_path == path
    assert detection.line == line_of(files, path, marker)
    assert cwe in detection.cwe
    assert detection.owasp == ("A06:2021 - Vulnerable and Outdated Components",)
    assert detection.cvss_base_score == base_score(detection.cvss_vector)
    assert detection.cvss_severity == detection.severity
    assert f"https://nvd.nist.gov/vuln/detail/{cve}" in detection.references
    assert cve in detection.message


def test_only_the_planted_pins_are_reported():
    reported = {
        d.check_id.removeprefix("sbom.")
        for tree in (
            "acme/payments-api",
            "acme/web-frontend",
            "acme/inventory-service",
            "acme/infra",
        )
        for d in scan_tree(load_tree(tree), "sbom_scan")
    }
    assert reported == {cve for *_rest, cve, _cwe in PLANTED}


def test_a_pin_at_the_fixed_version_is_not_reported():
    files = load_tree("acme/payments-api")
    fixed = {
        **files,
        "requirements.txt": files["requirements.txt"].replace("PyYAML==5.3.1", "PyYAML==5.4"),
    }
    assert "sbom.CVE-2020-14343" in {d.check_id for d in scan_tree(files, "sbom_scan")}
    assert "sbom.CVE-2020-14343" not in {d.check_id for d in scan_tree(fixed, "sbom_scan")}


def test_versions_outside_the_affected_range_are_not_reported():
    files = {"requirements.txt": "requests==2.2.1\nrequests-toolbelt==0.9.1\n"}
    # requests was affected only from 2.3.0 on; a package with a similar name is another package.
    assert scan_tree(files, "sbom_scan") == []


def test_maven_dependencies_resolve_version_properties():
    pom = """<project>
  <properties>
    <log4j.version>2.14.1</log4j.version>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>${log4j.version}</version>
    </dependency>
  </dependencies>
</project>
"""
    [dependency] = dependencies_in(file_path="pom.xml", text=pom)
    assert (dependency.name, dependency.version, dependency.line) == (
        "org.apache.logging.log4j:log4j-core",
        "2.14.1",
        3,
    )
    [detection] = scan_tree({"service/pom.xml": pom}, "sbom_scan")
    assert detection.check_id == "sbom.CVE-2021-44228"
    assert detection.severity == "critical"
    assert detection.cvss_base_score == 10.0


def test_npm_ranges_are_read_at_their_lowest_version():
    files = {"package.json": '{"dependencies": {"lodash": "^4.17.11", "axios": "~0.21.1"}}\n'}
    assert [d.check_id for d in scan_tree(files, "sbom_scan")] == ["sbom.CVE-2020-8203"]
