"""Stopping a conversion midway (Ctrl-C, SIGTERM, a closed terminal, SIGKILL) leaves no output and no temporaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = pytest.mark.slow  # end to end: real servers, editors or processes (see pyproject.toml)


def _convert_until_quantizing(checkpoint, dest) -> tuple[subprocess.Popen, psutil.Process]:
    """`cga convert` in its own session (as a terminal would run it), stopped at once when its quantizer starts."""
    # A shell gives a foreground job the default Ctrl-C, whatever it was itself given (a test runner started in
    # the background ignores SIGINT, and a child would inherit that).
    proc = subprocess.Popen(
        [sys.executable, "-m", "cga.cli", "convert", str(checkpoint), "-o", str(dest), "-q", "q4_k_m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        children = parent.children()
        if children:
            return proc, children[0]
        time.sleep(0.01)
    pytest.fail(f"the conversion ended ({proc.returncode}) without a quantizer process: {proc.stderr.read()}")


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("how, code", [("ctrl-c", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_an_interrupted_quantization_stops_and_leaves_nothing(tmp_path, codegen1, how, code):
    out = tmp_path / "out"
    out.mkdir()
    proc, quantizer = _convert_until_quantizing(codegen1.path, out / "m.gguf")
    if how == "ctrl-c":  # the terminal sends it to the whole process group
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(getattr(signal, how))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert _leftovers(out) == []
    quantizer.wait(timeout=10)  # the child is gone too, not finishing a file for nobody


def test_temporaries_of_a_conversion_killed_outright_are_removed_by_the_next(tmp_path, codegen1):
    out = tmp_path / "out"
    out.mkdir()
    proc, quantizer = _convert_until_quantizing(codegen1.path, out / "m.gguf")
    proc.kill()
    proc.wait()
    quantizer.wait(timeout=10)  # an orphaned quantizer stops by itself
    assert [n for n in _leftovers(out) if n.endswith(".tmp")], "SIGKILL should have left temporaries to sweep"
    again = subprocess.run(
        [sys.executable, "-m", "cga.cli", "convert", str(codegen1.path), "-o", str(out / "m.gguf"), "-q", "q8_0"],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    assert _leftovers(out) == ["m.gguf"]
