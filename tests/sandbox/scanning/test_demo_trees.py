import pytest

from sandbox.demo_trees import TREES, load_tree


def test_every_demo_tree_is_listed_with_its_full_name_and_loads_as_text():
    assert set(TREES) >= {
        "acme/payments-api",
        "acme/web-frontend",
        "acme/inventory-service",
        "acme/infra",
    }
    for full_name in TREES:
        files = load_tree(full_name)
        assert 8 <= len(files) <= 20, full_name
        assert all("\\" not in path and not path.startswith("/") for path in files)
        assert all(isinstance(text, str) and text for text in files.values())


def test_each_tree_carries_its_manifest():
    assert "requirements.txt" in load_tree("acme/payments-api")
    assert "package.json" in load_tree("acme/web-frontend")
    assert "go.mod" in load_tree("acme/inventory-service")
    assert "terraform/main.tf" in load_tree("acme/infra")


def test_no_tree_file_looks_like_a_test_module():
    for full_name in TREES:
        for path in load_tree(full_name):
            name = path.rsplit("/", 1)[-1]
            assert not (name.startswith("test_") or name == "conftest.py"), path


def test_an_unknown_tree_is_refused():
    with pytest.raises(KeyError):
        load_tree("acme/nothing-here")
