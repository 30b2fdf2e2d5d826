"""Several editors at once: one shared llama-server with parallel slots against a local model per editor.

N language servers (`cga lsp`, one per simulated editor) each open their own
Python file (about 600 tokens: eight editors opening 1,500-token files at
once keep two cores busy for over a minute before the first answer) and ask
for R single-line completions, each after a one-character edit, all N at the
same time. Shared: every language server
points at one llama.cpp `llama-server` (built by tests/remote_server/build.sh)
with N parallel slots. Local: every language server loads the model itself.
Reported per setup: completion latency p50 / p95 and completions per second
over all editors. The model is the embedded SmolLM2-135M (a trained model, so
answers end where a line ends).

    python bench/shared_server_bench.py --clients 1 4 8 --requests 8 --threads 2
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lsp_bench import SINGLE, python_file  # noqa: E402
from cga.assistant.model_choice import embedded_default  # noqa: E402
from tests.lsp.raw_client import RawServer  # noqa: E402

SLOT_CONTEXT = 2048


def start_llama_server(clients: int, threads: int) -> tuple[subprocess.Popen, str]:
    built = subprocess.run(
        ["bash", str(ROOT / "tests" / "remote_server" / "build.sh")], capture_output=True, text=True, check=True
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            built.stdout.strip().splitlines()[-1],
            "-m",
            str(embedded_default()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            str(SLOT_CONTEXT * clients),
            "-np",
            str(clients),
            "-t",
            str(threads),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama-server did not start")


def editor(index: int, options: dict, requests: int, start: threading.Barrier, latencies: list[float]) -> None:
    try:
        _edit_and_complete(index, options, requests, start, latencies)
    except (AssertionError, threading.BrokenBarrierError):  # a language server that did not answer within 120 s
        start.abort()  # the others (and main) stop waiting for this editor


def _edit_and_complete(
    index: int, options: dict, requests: int, start: threading.Barrier, latencies: list[float]
) -> None:
    uri = f"file:///bench/editor{index}.py"
    text = python_file(index)[:2400] + "\n\n" + SINGLE
    line = text.count("\n")
    with RawServer() as server:
        server.initialize(options)
        server.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
            }
        )
        server.send(
            {
                "jsonrpc": "2.0",
                "id": "warm",
                "method": "textDocument/completion",
                "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": len(SINGLE)}},
            }
        )
        server.response("warm")  # the model is loaded (local) and the file seen once, as in an editor
        start.wait()
        column = len(SINGLE)
        for n in range(requests):
            where = {"line": line, "character": column}
            server.insert(uri, n + 2, where, ",")
            column += 1
            began = time.perf_counter()
            server.send(
                {
                    "jsonrpc": "2.0",
                    "id": n,
                    "method": "textDocument/completion",
                    "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": column}},
                }
            )
            server.response(n)
            latencies.append(time.perf_counter() - began)
        server.shut_down()


def run(clients: int, requests: int, options: dict) -> dict[str, float] | None:
    """The figures, or None when an editor got no answer within 120 s."""
    latencies: list[float] = []
    start = threading.Barrier(clients + 1)
    editors = [threading.Thread(target=editor, args=(i, options, requests, start, latencies)) for i in range(clients)]
    for e in editors:
        e.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        for e in editors:
            e.join()
        return None
    began = time.perf_counter()
    for e in editors:
        e.join()
    wall = time.perf_counter() - began
    if start.broken or len(latencies) < clients * requests:
        return None
    ordered = sorted(latencies)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "per_s": len(ordered) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of the server, and of each local model")
    args = parser.parse_args()
    print("| editors | setup | p50 | p95 | completions/s |\n|---|---|---|---|---|")
    for clients in args.clients:
        proc, url = start_llama_server(clients, args.threads)
        try:
            shared = run(clients, args.requests, {"remoteUrl": url, "maxTokens": 32})
        finally:
            proc.terminate()
            proc.wait()
        report(clients, "one llama-server, parallel slots", shared)
        report(
            clients,
            "a local model each",
            run(clients, args.requests, {"model": str(embedded_default()), "threads": args.threads, "maxTokens": 32}),
        )


def report(clients: int, setup: str, figures: dict[str, float] | None) -> None:
    if figures is None:
        print(f"| {clients} | {setup} | no answer within 120 s | | |", flush=True)
    else:
        print(
            f"| {clients} | {setup} | {figures['p50']:.2f} s | {figures['p95']:.2f} s | {figures['per_s']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
