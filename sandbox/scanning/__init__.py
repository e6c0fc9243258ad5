"""Pure-Python scanners and fix generator behind the sandbox's scans and fixes.

Nothing here touches Django: a tree is a ``dict`` of relative POSIX path -> text.
"""

from sandbox.scanning.detection import SCAN_TYPES, Detection
from sandbox.scanning.scan import scan_tree

__all__ = ["SCAN_TYPES", "Detection", "scan_tree"]
