"""Pure-Python scanners and fix generator behind the sandbox's scans and fixes.

Nothing here touches Django: a tree is a ``dict`` of relative POSIX path -> text.
"""

from sandbox.scanning.detection import SCAN_TYPES, Detection
from sandbox.scanning.diffs import apply_diff
from sandbox.scanning.fixes import FixNotPossible, propose_fix
from sandbox.scanning.scan import scan_tree

__all__ = ["SCAN_TYPES", "Detection", "FixNotPossible", "apply_diff", "propose_fix", "scan_tree"]
