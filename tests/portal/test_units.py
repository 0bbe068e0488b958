"""The unit tests of the portal's pure modules (portal/test/, node's own test runner), run with the machine's
Node as part of the suite."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[2] / "portal"


def test_the_portals_pure_modules_pass_their_unit_tests() -> None:
    node = shutil.which("node")
    assert node, "Node.js is missing: the portal needs it to build (apt-get install nodejs npm)"
    result = subprocess.run([node, "--test", "test/"], cwd=PORTAL, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
