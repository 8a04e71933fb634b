"""The policy for "a+b mod 10" in PyTorch: embeddings of a and b, an MLP, 10 logits.

Unlike the numpy toy's one row per prompt, the MLP shares what it learns
between prompts. Its state_dict goes to rollout as numpy arrays over an aic
weight stream (to_arrays / load_arrays).
"""
import torch
from torch import nn

DIGITS = 10


class Policy(nn.Module):
    def __init__(self, dim=64):
        super().__init__()
        self.a = nn.Embedding(DIGITS, dim)
        self.b = nn.Embedding(DIGITS, dim)
        self.mlp = nn.Sequential(nn.ReLU(), nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, DIGITS))

    def forward(self, a, b):
        return self.mlp(self.a(a) + self.b(b))


def prompts_to_tensors(prompts, device):
    a = torch.tensor([p["a"] for p in prompts], device=device)
    b = torch.tensor([p["b"] for p in prompts], device=device)
    return a, b


def to_arrays(model):
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_arrays(model, arrays):
    # The arrays are read-only views of the received blob: copy before torch owns them.
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()})
