"""Version ordering good enough for PyPI, npm, Go module and Maven version strings."""

import re
from functools import total_ordering

_PRE_RELEASE_WORDS = {"dev": -4, "alpha": -3, "a": -3, "beta": -2, "b": -2, "preview": -2, "rc": -1}


@total_ordering
class Version:
    """Release numbers compare numerically; any pre-release sorts before its release."""

    def __init__(self, text: str) -> None:
        self.text = text
        cleaned = text.strip().lstrip("vV=").split("+", 1)[0]
        match = re.match(r"(\d+(?:\.\d+)*)(.*)", cleaned)
        if not match:
            raise ValueError(f"not a version: {text!r}")
        release = [int(part) for part in match.group(1).split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        self.release = tuple(release)
        self.pre = self._pre_release(match.group(2).lstrip(".-_"))

    @staticmethod
    def _pre_release(text: str) -> tuple[tuple[int, int, str], ...]:
        if not text or text.lower() in {"final", "release", "ga"}:
            return ()
        key = []
        for part in re.findall(r"\d+|[A-Za-z]+", text):
            if part.isdigit():
                key.append((1, int(part), ""))
            else:
                key.append((0, _PRE_RELEASE_WORDS.get(part.lower(), 0), part.lower()))
        return tuple(key)

    def _release_padded(self, other: "Version") -> tuple[tuple[int, ...], tuple[int, ...]]:
        width = max(len(self.release), len(other.release))
        return (
            self.release + (0,) * (width - len(self.release)),
            other.release + (0,) * (width - len(other.release)),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        mine, theirs = self._release_padded(other)
        return mine == theirs and self.pre == other.pre

    def __lt__(self, other: "Version") -> bool:
        mine, theirs = self._release_padded(other)
        if mine != theirs:
            return mine < theirs
        if self.pre == other.pre:
            return False
        if not self.pre:
            return False
        if not other.pre:
            return True
        return self.pre < other.pre

    def __hash__(self) -> int:
        return hash((self.release, self.pre))

    def __repr__(self) -> str:
        return f"Version({self.text!r})"


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except ValueError:
        return None
