"""LiveCodeBench through the eval stage: fixture rows in the dataset's real schema (private
tests base64(zlib(pickle(json)))), scripted solutions of known verdicts run in the sandbox."""

from __future__ import annotations

import base64
import os
import pickle
import sys
import zlib
from pathlib import Path

import pytest

from jre.errors import UserError
from jre.plugins.benchmarks.livecodebench import decode_private, same_output
from jre.plugins.benchmarks.livecodebench import tests_of as read_tests

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
sys.path.insert(0, str(FIXTURES))

import evalkit  # noqa: E402

F = "```"



def block(code: str) -> str:
    return f"{F}python\n{code}{F}"


def test_livecodebench_stdin_and_functional(tmp_path: Path) -> None:
    marker = tmp_path / "escaped.txt"
    stdin_ok = block("a, b = map(int, input().split())\nprint(a + b)\nprint((a + b) / 2)\n")
    main_ok = block("import sys\ndef main():\n    a, b = map(int, sys.stdin.read().split())\n"
                    "    print(a + b, end=' \\n')\n    print((a + b) / 2)\n"
                    "if __name__ == '__main__':\n    main()\n")
    stdin_wrong = block("a, b = map(int, input().split())\nprint(a + b)\n")
    timeout = block("while True:\n    pass\n")
    hostile = block(f"import os\nopen({str(marker)!r}, 'w').write('x')\n"
                    "print(3)\nprint(1.5)\nos._exit(0)\n")
    fn_ok = block("class Solution:\n    def pairSums(self, nums: List[int]) -> List[int]:\n"
                  "        return [a + b for a, b in zip(nums, nums[1:])]\n")
    fn_tuple = block("class Solution:\n    def pairSums(self, nums):\n"
                     "        return tuple(a + b for a, b in zip(nums, nums[1:]))\n")
    fn_wrong = block("class Solution:\n    def pairSums(self, nums):\n"
                     "        return [a + b for a, b in zip(nums, nums[1:])] or [0]\n")
    script = evalkit.write_script(tmp_path, {
        "abc900_a": [f"<think>\nsum\n</think>\n\n{stdin_ok}", main_ok, stdin_wrong, timeout, hostile],
        "3900": [fn_ok, fn_tuple, fn_wrong, "no code here", fn_ok],
    })
    recipe = evalkit.write_recipe(tmp_path, [{
        "name": "livecodebench", "path": str(FIXTURES / "livecodebench.jsonl"), "n": 5,
        "start_date": "2024-08-01", "end_date": "2025-04-30", "workers": 2,
        "seconds_per_test": 0.7}], {"name": "scripted", "script": script,
                                                 "model": "scripted-model"})
    evalkit.run_eval(recipe)
    res = evalkit.results(tmp_path, "livecodebench")
    rows = {r["id"]: r for r in evalkit.details(tmp_path, "livecodebench")}
    assert {r["item_id"] for r in rows.values()} == {"abc900_a", "3900"}  # window drops abc300_a
    scores = {k: r["score"] for k, r in rows.items()}
    assert [scores[f"abc900_a#{i}"] for i in range(5)] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert [scores[f"3900#{i}"] for i in range(5)] == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert res["metric"] == "pass@1"
    assert res["metrics"]["pass@1"] == pytest.approx((2 / 5 + 3 / 5) / 2)
    assert rows["abc900_a#3"]["status"]["sandbox"] == "timeout"
    assert not marker.exists()  # the hostile program wrote inside its run only
    assert res["release_window"] == {"start_date": "2024-08-01", "end_date": "2025-04-30"}
    assert res["sandbox"]["isolation"].startswith("rlimits")


def test_output_comparison_as_livecodebench() -> None:
    assert same_output("3\n1.5\n", "3\n1.5")
    assert same_output("  3 \n\n", "3\n")
    assert same_output("0\n0.0\n", "0\n0\n")  # Decimal-equal tokens
    assert not same_output("3\n\n1.5\n", "3\n1.5\n")  # an inner blank line is a line
    assert not same_output("1.50001\n", "1.5\n")  # no float tolerance
    assert not same_output("yes\n", "Yes\n")


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def test_private_tests_decoding_refuses_objects() -> None:
    plain = base64.b64encode(zlib.compress(pickle.dumps('[{"input": "1", "output": "2"}]')))
    assert decode_private(plain.decode()) == [{"input": "1", "output": "2"}]
    evil = base64.b64encode(zlib.compress(pickle.dumps(_Evil())))
    with pytest.raises(pickle.UnpicklingError):
        decode_private(evil.decode())
    with pytest.raises(UserError, match="problem 7: unreadable tests"):
        read_tests({"question_id": "7", "public_test_cases": "[]",
                  "private_test_cases": evil.decode()})
    assert decode_private('[{"input": "x", "output": "y"}]') == [{"input": "x", "output": "y"}]
