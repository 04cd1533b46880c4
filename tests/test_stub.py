"""The type stub of the extension module must match it (mypy's stubtest)."""

import subprocess
import sys


def test_core_stub_matches_the_extension_module():
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "--ignore-disjoint-bases", "ferrotune._core"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
