"""The language server with a very large document: time to the first answer, per-keystroke time, memory.

The embedded SmolLM2 model, a document of N MiB of Python opened and completed
at its end, a one-character edit, a second completion, then the document closed.
Memory is the server's resident set (its baseline with the model loaded and a
small document is printed first).

    python bench/big_document_bench.py --mib 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from cga.assistant.model_choice import embedded_default  # noqa: E402
from tests.lsp.raw_client import RawServer  # noqa: E402

URI = "file:///bench/big.py"


def run(mib: float, threads: int) -> dict[str, float]:
    text = "value = compute(1)\n" * int(mib * 2**20 / 19)
    lines = text.count("\n")
    with RawServer() as server:
        server.initialize({"model": str(embedded_default()), "threads": threads})
        process = psutil.Process(server.process.pid)

        def rss() -> float:
            return process.memory_info().rss / 2**20

        start = time.perf_counter()
        server.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": URI, "languageId": "python", "version": 1, "text": text}},
            }
        )
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "textDocument/completion",
                "params": {"textDocument": {"uri": URI}, "position": {"line": lines, "character": 0}},
            }
        )
        server.response(1)
        first, after_first = time.perf_counter() - start, rss()
        start = time.perf_counter()
        end = {"line": lines, "character": 0}
        server.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": URI, "version": 2},
                    "contentChanges": [{"range": {"start": end, "end": end}, "text": "x"}],
                },
            }
        )
        server.send(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "textDocument/completion",
                "params": {"textDocument": {"uri": URI}, "position": {"line": lines, "character": 1}},
            }
        )
        server.response(2)
        keystroke, peak = time.perf_counter() - start, rss()
        server.send({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": URI}}})
        time.sleep(1.0)  # the server tidies its heap after a close, in the background
        closed = rss()
        server.shut_down()
    return {
        "first_s": first,
        "keystroke_s": keystroke,
        "rss_after_first_mib": after_first,
        "rss_peak_mib": peak,
        "rss_after_close_mib": closed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=20.0, help="document size in MiB")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for label, mib in (("small (10 KiB)", 0.01), (f"{args.mib:g} MiB", args.mib)):
        figures = run(mib, args.threads)
        print(
            f"{label:>16}: first answer {figures['first_s']:.2f} s (model load included), edit + answer "
            f"{figures['keystroke_s']:.2f} s, RSS {figures['rss_after_first_mib']:.0f} MiB after the first "
            f"answer, {figures['rss_peak_mib']:.0f} MiB peak, {figures['rss_after_close_mib']:.0f} MiB after close"
        )


if __name__ == "__main__":
    main()
