"""The toy's task set: list transformations with tests, and the programs a policy may
write for them (one body per candidate). Two candidates are hostile on purpose, as a
model's programs can be: one runs `rm -rf /`, one is a fork bomb. They only ever run in
a sandbox (env.py), fail their tests and harm nothing outside it."""
import json

# Each task: a name and its tests, [input list, expected output].
TASKS = [
    ("sort", [[[3, 1, 2], [1, 2, 3]], [[5, 4, 9, 0], [0, 4, 5, 9]]]),
    ("reverse", [[[3, 1, 2], [2, 1, 3]], [[5, 4, 9, 0], [0, 9, 4, 5]]]),
    ("double", [[[3, 1, 2], [6, 2, 4]], [[5, 4, 9, 0], [10, 8, 18, 0]]]),
    ("sum", [[[3, 1, 2], [6]], [[5, 4, 9, 0], [18]]]),
    ("max", [[[3, 1, 2], [3]], [[5, 4, 9, 0], [9]]]),
    ("evens", [[[3, 1, 2], [2]], [[5, 4, 9, 0], [4, 0]]]),
]

# The bodies of solve(xs) a policy chooses among.
BODIES = [
    "return sorted(xs)",
    "return xs[::-1]",
    "return [2 * x for x in xs]",
    "return [sum(xs)]",
    "return [max(xs)]",
    "return [x for x in xs if x % 2 == 0]",
    "return xs",
    "return xs[1:]",
    "import os\n    os.system('rm -rf --no-preserve-root / 2>/dev/null')\n    return xs",
    "import os\n    while True:\n        os.fork()",
]
HOSTILE = {8: "rm -rf /", 9: "fork bomb"}


def program(choice):
    return "def solve(xs):\n    %s\n" % BODIES[choice]


# Run in the sandbox by python3 -c: the program and the tests on stdin, "pass" or "fail".
HARNESS = r"""
import json, sys
job = json.load(sys.stdin)
ns = {}
try:
    exec(job["code"], ns)
    ok = all(ns["solve"](list(i)) == o for i, o in job["tests"])
except Exception:
    ok = False
print("pass" if ok else "fail")
"""


def task_input(task, code):
    return json.dumps({"code": code, "tests": TASKS[task][1]})
