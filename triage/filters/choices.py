"""Choices a filter form copies by reference instead of item by item."""

from collections.abc import Iterable, Iterator

from django.utils.choices import BaseChoiceIterator


class FrozenChoices(BaseChoiceIterator):
    """A team's (value, label) choices, read once per request and never changed after.

    A form deep-copies each field's choices when it is built, and a choice field normalizes
    a plain list again whenever it is read: with a team's hundreds of repositories and
    members that is most of what building the findings filters costs. A choice iterator is
    taken as it is by both, and this one is its own copy.
    """

    def __init__(self, choices: Iterable[tuple[object, str]]):
        self._choices = tuple(choices)

    def __iter__(self) -> Iterator[tuple[object, str]]:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    def __copy__(self) -> "FrozenChoices":
        return self

    def __deepcopy__(self, memo: dict) -> "FrozenChoices":
        return self
