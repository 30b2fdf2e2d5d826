"""Language-server latency and memory with a real client over stdio.

A random-weight codegen-350M-shaped model at Q4_K_M, a 1,500-token Python
file, a one-character edit before each request; single-line and 32-token
multi-line completions: cold (the first request in a file just opened, while
the server starts reading it), warm (the same file once read, after an edit),
and back to a file after completing in another one. Where a request's time goes
(from the server's own log lines), prompt tokens recomputed per warm request
and the server's resident memory.

    python bench/lsp_bench.py --threads 2 --repeat 5              # the server's default window
    python bench/lsp_bench.py --threads 2 --repeat 5 --context 2048  # CodeGen's whole context
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lsprotocol import types  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

from bench.convert_bench import build  # noqa: E402


def python_file(tag: int) -> str:
    body = "".join(
        f"def handler_{i}(request, retries={i % 5}):\n"
        f'    """Handle request number {i} and retry on failure."""\n'
        f"    for attempt in range(retries):\n"
        f"        result = request.send(timeout={i} + attempt)\n"
        f"        if result.ok:\n"
        f"            return result.json()\n"
        f"    raise RuntimeError('handler_{i} failed')\n\n\n"
        for i in range(19)  # 1,471 tokens
    )
    return f"# file {tag}\nimport json\n\n\n" + body


SINGLE = "value = handler_3(request"  # a line to finish
MULTI = "def handler_extra(request):\n    "  # a block to write


def open_file(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
    )


def type_at_end(client: LanguageClient, uri: str, text: str, version: int) -> str:
    """One character typed at the end of the file; the text after it."""
    lines = text.split("\n")
    end = types.Position(len(lines) - 1, len(lines[-1]))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(end, end), text="x")],
        )
    )
    return text + "x"


async def ask_at_end(client: LanguageClient, uri: str, text: str) -> float:
    """An inline completion at the end of the file, as typing asks for one; the seconds the client waited."""
    lines = text.split("\n")
    start = time.perf_counter()
    await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri),
            position=types.Position(len(lines) - 1, len(lines[-1])),
            context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Automatic),
        )
    )
    return time.perf_counter() - start


async def measure(
    model: Path, threads: int, repeat: int, context: int | None, stderr_log: Path, confidence_cut: float | None = None
) -> dict:
    client = LanguageClient("cga-bench", "1")
    logs: list[str] = []

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params: types.LogMessageParams) -> None:
        logs.append(params.message)

    # The server's stderr goes to a file: pygls' client pipes it and never reads it.
    await client.start_io("sh", "-c", f"exec '{sys.executable}' -m cga.cli lsp 2>>'{stderr_log}'")
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            initialization_options={
                "model": str(model),
                "threads": threads,
                "maxTokens": 32,
                **({"contextTokens": context} if context else {}),
                **({"confidenceCut": confidence_cut} if confidence_cut is not None else {}),
            },
        )
    )
    client.initialized(types.InitializedParams())
    results: dict[str, list[float]] = {}
    recomputed: list[int] = []
    breakdown: dict[str, list[dict[str, float]]] = {}
    tag = 0
    for kind, tail in (("single-line", SINGLE), ("32-token multi-line", MULTI)):
        for phase in ("cold", "warm"):
            results[f"{kind} {phase}"] = []
        for _ in range(repeat):
            tag += 1
            uri = f"file:///bench/file_{tag}.py"
            # Unique at the top (so nothing of the KV cache is shared: cold is cold) and near the
            # cursor (so the server's cache of identical contexts cannot answer).
            text = python_file(tag) + f"# request {tag}\n" + tail
            open_file(client, uri, text)
            for phase, version in (("cold", 1), ("warm", 2)):
                if phase == "warm":  # the file read whole (a pause in typing), a one-character edit, then ask again
                    for _ in range(600):
                        if any("warmed the cache with" in m and m.endswith(uri) for m in logs):
                            break
                        await asyncio.sleep(0.05)
                    text = type_at_end(client, uri, text, version)
                results[f"{kind} {phase}"].append(await ask_at_end(client, uri, text))
                await asyncio.sleep(0.2)
                last = [m for m in logs if "completion: prompt" in m][-1]
                times = {
                    k: float(v)
                    for k, v in re.findall(
                        r"(waited|prompt built|first text|generated|request) "
                        r"([\d.]+) s",
                        last,
                    )
                }
                times["prompt tokens"] = int(_field(r"prompt (\d+) tokens", last).group(1))
                times["tokens"] = int(_field(r"(\d+) generated", last).group(1))
                breakdown.setdefault(f"{kind} {phase}", []).append({**times, "client": results[f"{kind} {phase}"][-1]})
                if phase == "warm":
                    prompt, reused = map(int, _field(r"prompt (\d+) tokens, (\d+) reused", last).groups())
                    recomputed.append(prompt - reused)
    # Back to a file after another one: the server keeps the last documents' KV caches (assistant/engine.py).
    results["single-line back to a file"] = []
    for _ in range(repeat):
        opened = []
        for _ in range(2):
            tag += 1
            uri, text = f"file:///bench/file_{tag}.py", python_file(tag) + f"# request {tag}\n" + SINGLE
            open_file(client, uri, text)
            await ask_at_end(client, uri, text)
            opened.append((uri, text))
        uri, text = opened[0]  # the first file again, one character later
        text = type_at_end(client, uri, text, 2)
        results["single-line back to a file"].append(await ask_at_end(client, uri, text))
        await asyncio.sleep(0.2)
    rss = psutil.Process(_server_pid(client)).memory_info().rss / 2**20
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"latency": results, "recomputed": recomputed, "rss_mib": rss, "breakdown": breakdown}


def _field(pattern: str, line: str) -> re.Match[str]:
    """A figure of the server's timing line: its format is ours, so a missing one is a bug to hear about."""
    found = re.search(pattern, line)
    if found is None:
        raise ValueError(f"the server's timing line has no {pattern!r}: {line!r}")
    return found


def _server_pid(client: LanguageClient) -> int:
    server = client._server
    if server is None:
        raise RuntimeError("the language server is not running")
    return server.pid


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--context", type=int, help="The server's contextTokens (default: the server's default).")
    parser.add_argument("--model", type=Path, help="Use this GGUF instead of building a random-weight 350M Q4_K_M.")
    parser.add_argument(
        "--confidence-cut",
        type=float,
        help="The server's confidenceCut (default: the server's; "
        "random weights are unsure of almost every token, so 0 measures suggestions of full length).",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        model = args.model
        if model is None:
            ckpt = Path(tmp) / "codegen-350M"
            build("350M", ckpt)
            model = Path(tmp) / "c350.q4_k_m.gguf"
            subprocess.run(
                [sys.executable, "-m", "cga.cli", "convert", str(ckpt), "-o", str(model), "-q", "q4_k_m"], check=True
            )
        out = asyncio.run(
            measure(
                model, args.threads, args.repeat, args.context, Path(tmp) / "server-stderr.log", args.confidence_cut
            )
        )
    print(
        f"A 1,500-token file; {args.threads} threads; {args.repeat} runs each"
        + (f"; confidenceCut {args.confidence_cut:g}" if args.confidence_cut is not None else "")
        + ".\n"
    )
    print("| completion | p50 | p95 |\n|---|---|---|")
    for name, values in out["latency"].items():
        print(f"| {name} | {statistics.median(values):.2f} s | {percentile(values, 0.95):.2f} s |")
    print(
        "\nWhere a request's time goes (p50, seconds): the model to its first text and to its end, the service's "
        "whole request, and the client's wait (the rest is the protocol: reading, JSON, the pipe)\n"
    )
    print(
        "| completion | prompt tokens | tokens written | waited | prompt built | first text | generated | service "
        "| client | protocol |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, rows in out["breakdown"].items():
        p50 = {
            k: statistics.median(r.get(k, 0.0) for r in rows)
            for k in (
                "prompt tokens",
                "tokens",
                "waited",
                "prompt built",
                "first text",
                "generated",
                "request",
                "client",
            )
        }
        print(
            f"| {name} | {p50['prompt tokens']:.0f} | {p50['tokens']:.0f} | {p50['waited']:.3f} | "
            f"{p50['prompt built']:.3f} | {p50['first text']:.3f} | {p50['generated']:.3f} | {p50['request']:.3f} | "
            f"{p50['client']:.3f} | {statistics.median(r['client'] - r.get('request', 0.0) for r in rows):.3f} |"
        )
    print(
        f"\nPrompt tokens recomputed per warm request: max {max(out['recomputed'])}, "
        f"median {statistics.median(out['recomputed'])}"
    )
    print(f"Server resident memory: {out['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
