"""Keys read from requests: numbers within 64 bits, nothing else."""

import pytest

from triage.forms.ids import pk_of, pks_of


@pytest.mark.parametrize("value", ["1", 7, "-3", str(2**63 - 1)])
def test_a_key_is_a_64_bit_number(value):
    assert pk_of(value) == int(value)


@pytest.mark.parametrize(
    "value", [str(2**63), str(-(2**63) - 1), "1_000", " 12", "1.0", "x", "", "١٢"]
)
def test_anything_else_names_no_key(value):
    with pytest.raises(ValueError):
        pk_of(value)


def test_keys_of_a_list_leave_out_what_names_none_and_keep_the_order():
    assert pks_of(["3", "99999999999999999999", "x", "1", "2"], limit=2) == [3, 1]
