"""The task, the policy and GRPO's loss, shared by every stage (and bench/).

Task: sort LENGTH digits (0..DIGITS-1). A prompt is the digits; an answer
is LENGTH digits generated one at a time. The reward is per position
(right or wrong, checked by the reward stage); an answer's reward is the
fraction right, so a random answer scores about 1/DIGITS and a group's
answers differ from the start (GRPO learns nothing from a group whose
answers all score the same).

Policy: a small causal transformer over the sequence
`x_1 .. x_L SEP y_1 .. y_L`, predicting each y_i from what comes before it.
It starts from a fixed seed, so every rank of the training gang starts from
the same weights.

Loss: GRPO's, with the reward per position: each answer token's advantage
is its 0/1 reward relative to the group's answers at the same position,
A_it = (c_it - mean_i c_t) / (std_i c_t + eps), which assigns credit
much better than one number per answer and learns several times faster
here. A small entropy bonus (ENTROPY, 0.02) keeps a group's answers
from all agreeing on a wrong digit too soon (then that position teaches
nothing); without it the reward lingers below 0.9. Samples are at most
one weights version old, so the ratio to the sampling policy stays near 1
and clipping is left out:
loss = -sum_groups mean_{i,t} [A_it * log pi(y_it | x, y_i<t) + ENTROPY * H_it].
"""
import os

import torch
import torch.nn as nn

LENGTH = int(os.environ.get("LENGTH", "3"))
DIGITS = int(os.environ.get("DIGITS", "6"))
SEP = DIGITS  # the token between prompt and answer
VOCAB = DIGITS + 1
WIDTH = int(os.environ.get("WIDTH", "64"))
LAYERS = int(os.environ.get("LAYERS", "2"))
HEADS = 4
ENTROPY = float(os.environ.get("ENTROPY", "0.02"))  # the entropy bonus's weight
EPS = 1e-6


class Policy(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.tok = nn.Embedding(VOCAB, WIDTH)
        self.pos = nn.Parameter(torch.randn(2 * LENGTH + 1, WIDTH) * 0.02)
        layer = nn.TransformerEncoderLayer(WIDTH, HEADS, 2 * WIDTH, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.body = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(WIDTH)
        self.head = nn.Linear(WIDTH, DIGITS)  # answers are digits: SEP is never predicted
        n = 2 * LENGTH + 1
        self.register_buffer("mask", torch.triu(torch.full((n, n), float("-inf")), 1), persistent=False)

    def forward(self, seq):
        """Logits over the digits after each position of seq (batch, T)."""
        t = seq.shape[1]
        h = self.tok(seq) + self.pos[:t]
        h = self.body(h, mask=self.mask[:t, :t])
        return self.head(self.norm(h))


def prompts(n, gen):
    """n random prompts, (n, LENGTH) int64."""
    return torch.randint(0, DIGITS, (n, LENGTH), generator=gen)


def context(x):
    """The sequence a prompt starts the answer from: x SEP."""
    return torch.cat([x, torch.full((x.shape[0], 1), SEP, dtype=x.dtype)], 1)


@torch.no_grad()
def sample(model, x, group, gen):
    """GROUP answers per prompt, all at once: (n, group, LENGTH) int64."""
    seq = context(x).repeat_interleave(group, 0)
    for _ in range(LENGTH):
        logits = model(seq)[:, -1]
        nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)
        seq = torch.cat([seq, nxt], 1)
    return seq[:, LENGTH + 1:].view(x.shape[0], group, LENGTH)


def correct(x, y):
    """Which positions of each answer are right: x (n, L), y (n, G, L) -> (n, G, L) float 0/1."""
    return (y == x.sort(-1).values.unsqueeze(1)).float()


def loss(model, x, y, c):
    """GRPO's loss over groups: x (n, L), y (n, G, L), c = correct(x, y); a sum over groups."""
    n, g, _ = y.shape
    # Each position's advantage is relative to the group's answers at that position.
    adv = (c - c.mean(1, keepdim=True)) / (c.std(1, keepdim=True, unbiased=False) + EPS)
    seq = torch.cat([context(x).repeat_interleave(g, 0), y.reshape(n * g, LENGTH)], 1)
    logits = model(seq[:, :-1])[:, LENGTH:]  # the predictions of y_1 .. y_L
    lp = torch.log_softmax(logits, -1)
    logp = lp.gather(-1, y.reshape(n * g, LENGTH, 1)).squeeze(-1)
    entropy = -(lp.exp() * lp).sum(-1)
    per_token = adv.reshape(n * g, LENGTH) * logp + ENTROPY * entropy
    return -per_token.view(n, g, LENGTH).mean((1, 2)).sum()
