"""The harness itself: canonical answers score 100 %, empty ones 0 %, hostile programs are stopped."""

from __future__ import annotations

import time

import pytest

from cga.assistant.stopping import truncate_program
from cga.evaluation import humaneval, mtpb
from cga.evaluation.pass_at_k import mean_pass_at_k, pass_at_k
from cga.evaluation.sandbox import Limits, run_program


def test_humaneval_canonical_solutions_pass_and_empty_answers_fail():
    problems = humaneval.load_problems()
    assert len(problems) == 164
    canonical = humaneval.evaluate(problems, lambda p, _: p["canonical_solution"], samples=1)
    assert humaneval.scores(canonical, (1,)) == {"pass@1": 1.0}
    empty = humaneval.evaluate(problems[:20], lambda p, _: "", samples=1)
    assert humaneval.scores(empty, (1,)) == {"pass@1": 0.0}


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - (3 * 2) / (5 * 4))  # 1 - C(3,2)/C(5,2)
    assert mean_pass_at_k([(4, 1), (4, 3)], 1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_a_hanging_program_is_stopped_and_counted_as_a_failure():
    started = time.perf_counter()
    outcome = run_program("while True:\n    pass\n", Limits(seconds=2))
    assert outcome.status == "timeout" and not outcome.passed
    sleeper = run_program("import time\ntime.sleep(60)\n", Limits(seconds=2))
    assert sleeper.status == "timeout"
    assert time.perf_counter() - started < 15


def test_a_program_that_eats_memory_is_stopped():
    outcome = run_program("x = bytearray(8 * 1024**3)\nprint('allocated')\n", Limits(seconds=10, memory_mb=512))
    assert outcome.status == "failed" and "MemoryError" in outcome.stderr and "allocated" not in outcome.stdout


# Hand-written answers for the first MTPB problems, turn by turn, as a model should write them.
SOLUTIONS = {
    "1": [
        'my_string = "{A}"',
        "my_string = my_string.lower()",
        "chars = set(my_string)",
        "chars = sorted(chars)",
        "print(chars)",
    ],
    "2": [
        "numbers = {numbers}",
        "total = sum(numbers)",
        "normalized = [x / total * 100 for x in numbers]",
        "formatted = [f'{{x:.1f}}' for x in normalized]",
        "print(formatted)",
    ],
}


def scripted(problem: mtpb.Problem):
    def answer(history: str, max_tokens: int) -> str:
        turn = history.count("\n# ") - 1  # comment lines after the header's
        values = next(v for v in problem.inputs if all(str(x) in history for x in v.values()))
        return SOLUTIONS[problem.id][turn].format(**values) + "\n# next\nprint('junk')"

    return answer


def test_mtpb_multi_turn_with_correct_turns_passes_and_empty_fails():
    problems = [p for p in mtpb.load_problems() if p.id in SOLUTIONS]
    assert len(mtpb.load_problems()) == 115 and len(problems) == 2
    for problem in problems:
        report = mtpb.evaluate([problem], scripted(problem), modes=("multi",))
        assert report.pass_rate("multi") == 1.0, [r.program for r in report.results if not r.passed][:1]
    empty = mtpb.evaluate(problems, lambda history, n: "", modes=("multi", "single"))
    assert empty.pass_rate("multi") == 0.0 and empty.pass_rate("single") == 0.0


def test_mtpb_truncation_and_output_matching_follow_the_paper():
    text = "x = 1\nprint(x)\nprint(x + 1)\n"
    assert truncate_program(text).rstrip() == "x = 1\nprint(x)"
    assert truncate_program("a = 2\n# Next step\nb = 3").rstrip() == "a = 2"
    assert truncate_program("a = 2\n\n\nb = 3").rstrip() == "a = 2"
    assert truncate_program("a = 2<|endoftext|>junk").rstrip() == "a = 2"
    assert truncate_program("a = 2\n# step\nb = 3", single_turn=True).rstrip() == "a = 2\n# step\nb = 3"
    assert mtpb.output_matches("noise\n[0.30000000000000004, 'a']\n", [0.3, "a"])
    assert mtpb.output_matches("hello world\n", "hello world")
    assert not mtpb.output_matches("[1, 2]\n", [1, 2, 3]) and not mtpb.output_matches("", 1)


def test_a_malformed_benchmark_file_is_refused_with_its_line(tmp_path):
    bad = tmp_path / "mtpb.jsonl"
    bad.write_text(
        '{"id": "1", "name": "x", "prompts": ["a"], "inputs": [{}], "outputs": [1], "max_gen_length": 8}\n'
        '{"id": "2", "prompts": "oops"}\n'
    )
    with pytest.raises(mtpb.BadData, match="line 2"):
        mtpb.load_problems(bad)


def test_jobs_run_up_to_parallel_at_once_and_come_back_in_order():
    import threading

    from cga.evaluation.generator import in_order

    active, most, lock = 0, 0, threading.Lock()

    def work(job: int) -> int:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05 * (job % 3))
        with lock:
            active -= 1
        return job * 10

    assert list(in_order(work, range(12), parallel=4)) == [j * 10 for j in range(12)]
    assert most == 4
    most = 0
    assert list(in_order(work, range(5))) == [0, 10, 20, 30, 40] and most == 1


def test_each_failed_program_says_why():
    """Issue 23, item 2: a result keeps what went wrong, not only that it did."""
    problem = next(p for p in mtpb.load_problems() if p.id == "1")
    answers = {
        "syntax error": "x = 1\nThis sets x to one.",
        "raised": "print(undefined_name)",
        "wrong output": "print('nope')",
        "timeout": "while True:\n    pass",
    }
    for kind, text in answers.items():
        report = mtpb.evaluate(
            [problem], lambda history, n, text=text: text, modes=("single",), limits=Limits(seconds=2)
        )
        outcomes = {(r.outcome, r.passed) for r in report.results}
        assert outcomes == {(kind, False)}, (kind, outcomes)
    detail = {r.detail for r in report.results}
    raised = mtpb.evaluate([problem], lambda history, n: "print(undefined_name)", modes=("single",)).results[0]
    assert raised.detail == "NameError: name 'undefined_name' is not defined", raised.detail
    wrong = mtpb.evaluate([problem], lambda history, n: "print('nope')", modes=("single",)).results[0]
    assert wrong.detail.startswith("printed 'nope', expected "), wrong.detail
    assert detail == {""}  # a timeout needs no more words
    empty = humaneval.evaluate(humaneval.load_problems()[:1], lambda p, _: "    return (", samples=1)
    assert empty[0].outcomes == ["syntax error"] and empty[0].details[0].startswith("line ")
