"""The toy policy shared by rollout and train: answers "a+b mod 10".

The prompt (a, b) is encoded one-hot over the 100 pairs and a linear layer
gives 10 logits, one per answer, so the policy is softmax(x @ W). With a
one-hot input each prompt owns one row of W: this is a contextual bandit,
the smallest setting in which GRPO's group-relative advantages are the
whole learning signal (chance is 1/10, solved is 1).
"""
import numpy as np

DIGITS = 10
FEATURES = DIGITS * DIGITS
ANSWERS = DIGITS


def encode(prompts):
    """One-hot rows for a list of prompt dicts with "a" and "b"."""
    x = np.zeros((len(prompts), FEATURES))
    for i, p in enumerate(prompts):
        x[i, p["a"] * DIGITS + p["b"]] = 1.0
    return x


def init():
    """Zero weights: the uniform policy, so step 0 is exactly chance."""
    return {"W": np.zeros((FEATURES, ANSWERS))}


def probs(params, x):
    z = x @ params["W"]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def correct(prompt, answer):
    """The verifiable reward: 1 when answer is (a + b) mod 10."""
    return 1.0 if answer == (prompt["a"] + prompt["b"]) % DIGITS else 0.0
