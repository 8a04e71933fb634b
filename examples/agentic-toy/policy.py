"""The policy, served over HTTP by a service stage: a table of logits (task x program),
sampled by GET /sample?task=T&n=N. A thread takes each new weight version from the
trainer as it comes (weights_from: policy), so every answer names the version it used."""
import http.server
import json
import os
import threading
import urllib.parse

import aic
import numpy as np

import tasks

w = aic.connect()
state = {"logits": np.zeros((len(tasks.TASKS), len(tasks.BODIES))), "version": 0}
lock = threading.Lock()
rng = np.random.default_rng()


def reload():
    stream = w.weights("policy")
    while True:
        try:
            arrays, v = stream.receive(min_version=state["version"] + 1, timeout=3600)
        except TimeoutError:
            continue
        with lock:
            state["logits"], state["version"] = arrays["logits"], v


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/health":
            return self.answer(200, {"version": state["version"]})
        if url.path != "/sample":
            return self.answer(404, {})
        q = urllib.parse.parse_qs(url.query)
        task, n = int(q["task"][0]), int(q.get("n", ["8"])[0])
        with lock:
            row, version = state["logits"][task], state["version"]
        p = np.exp(row - row.max())
        p /= p.sum()
        choices = rng.choice(len(p), size=n, p=p).tolist()
        self.answer(200, {"version": version, "choices": choices})


threading.Thread(target=reload, daemon=True).start()
http.server.ThreadingHTTPServer(("", int(os.environ["AIC_PORT"])), Handler).serve_forever()
