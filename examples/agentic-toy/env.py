"""An environment replica: for each task item, asks the policy service (found with
w.endpoints) for a group of programs, runs each against the task's tests in this
replica's sandbox (no network, read-only but /tmp, a time limit), and sends the group's
rewards (1: every test passes) to the trainer."""
import json
import os
import random
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import aic

import tasks

GROUP = int(os.environ.get("GROUP", "8"))

w = aic.connect()
sb = aic.Sandbox()
pool = ThreadPoolExecutor(GROUP)
hostile = {k: 0 for k in tasks.HOSTILE.values()}


def sample(task):
    eps = w.endpoints("policy", ready_only=True)
    while not eps:  # the service is starting, or restarting
        eps = w.endpoints("policy", ready_only=True)
    url = "http://%s/sample?task=%d&n=%d" % (random.choice(eps)["addr"], task, GROUP)
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


def reward(task, choice):
    if choice in tasks.HOSTILE:
        hostile[tasks.HOSTILE[choice]] += 1
    try:
        r = sb.run(["python3", "-c", tasks.HARNESS],
                   stdin=tasks.task_input(task, tasks.program(choice)))
    except aic.SandboxError:
        return 0.0  # a program took the sandbox down: it is made anew for the next
    return 1.0 if r["stdout"].strip() == "pass" else 0.0


done = 0
while True:
    try:
        items = w.get("tasks", max_items=1, timeout=1)
    except aic.Closed:
        break
    for it in items:
        task = json.loads(it.data)["task"]
        s = sample(task)
        rewards = list(pool.map(lambda c: reward(task, c), s["choices"]))
        w.put("groups", json.dumps({"task": task, "choices": s["choices"], "rewards": rewards,
                                    "version": s["version"]}).encode(), wait=True)
        done += 1
    w.ack(items)
print("env %d: %d groups; hostile programs run: %s" % (w.index, done, json.dumps(hostile)),
      flush=True)
