"""What the command line imports, and in which order.

The CLI loads only what the command it runs needs: `cga lsp` replaces itself with the server at once and an
editor waits for that server's first answer, so llama.cpp's binding and numpy are not loaded for it. A command
that does load them loads llama_cpp first (on some CUDA builds the reverse order crashes every model load).
"""

from __future__ import annotations

import json
import subprocess
import sys

# Records, in a child interpreter, the order in which the watched modules are first imported, then runs cga.
_WATCH = """
import json, sys
order = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in ("numpy", "llama_cpp", "gguf") and name not in order:
            order.append(name)
        return None
sys.meta_path.insert(0, Watch())
import atexit
atexit.register(lambda: sys.__stderr__.write("\\nORDER " + json.dumps(order) + "\\n"))
import cga.cli.app
sys.__stderr__.write("\\nAFTER-IMPORT " + json.dumps(order) + "\\n")
sys.argv = ["cga", *sys.argv[1:]]
cga.cli.app.main()
"""


def _imports(*args: str) -> tuple[list[str], list[str], subprocess.CompletedProcess]:
    done = subprocess.run(
        [sys.executable, "-c", _WATCH, *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in done.stderr.splitlines() if " [" in line}
    return json.loads(lines["AFTER-IMPORT"]), json.loads(lines["ORDER"]), done


def test_the_command_line_loads_neither_llama_cpp_nor_numpy_before_a_command_needs_them():
    after_import, after_help, done = _imports("--help")
    assert done.returncode == 0, done.stderr
    assert after_import == []
    assert "numpy" not in after_help


def test_a_command_that_reads_weights_loads_llama_cpp_before_numpy(tmp_path):
    folder = tmp_path / "not-a-checkpoint"
    folder.mkdir()
    _, order, done = _imports("convert", str(folder), "-o", str(tmp_path / "out.gguf"))
    assert done.returncode == 1, done.stderr  # refused: the folder holds no checkpoint
    assert "numpy" in order, "the converter was not reached"
    assert order.index("llama_cpp") < order.index("numpy")
    assert not (tmp_path / "out.gguf").exists()
