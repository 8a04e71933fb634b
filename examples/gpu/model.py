"""The policy for "a+b mod 10" in PyTorch: embeddings of a and b, an MLP, 10 logits.

Unlike the numpy toy's one row per prompt, the MLP shares what it learns
between prompts. Its parameters go to rollout GPU to GPU: flattened into
one CUDA buffer and broadcast over NCCL by aic's weight stream
(publish_weights / receive_weights).
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


def publish_weights(stream, model, version):
    """Broadcasts the parameters as one flat CUDA buffer; returns once every reader has them."""
    flat = nn.utils.parameters_to_vector(model.parameters()).detach().contiguous()
    stream.publish_device(flat.data_ptr(), flat.numel() * flat.element_size(), version,
                          torch.cuda.current_stream().cuda_stream)


def receive_weights(stream, model, min_version, timeout=None):
    """Receives a version >= min_version straight into this GPU and loads it; returns it."""
    flat = nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    nbytes, version = stream.receive_device(flat.data_ptr(), flat.numel() * flat.element_size(),
                                            min_version, timeout,
                                            torch.cuda.current_stream().cuda_stream)
    nn.utils.vector_to_parameters(flat, model.parameters())
    return version


def publish_weights_host(stream, model, version):
    """The parameters through host memory (a plain weight stream): for stages that share GPUs
    in turns (job-alternate.yaml), where NCCL's collective broadcast cannot be used: the
    readers are not running while the trainer holds the GPUs. On one device CUDA IPC would
    hand the buffer over with no copy at all; aic does not do that yet."""
    flat = nn.utils.parameters_to_vector(model.parameters()).detach()
    stream.publish({"flat": flat.cpu().numpy()}, version)


def receive_weights_host(stream, model, min_version, timeout=None):
    """A version >= min_version from publish_weights_host, loaded onto this GPU; returns it."""
    arrays, version = stream.receive(min_version=min_version, timeout=timeout)
    flat = torch.as_tensor(arrays["flat"]).to(next(model.parameters()).device)
    nn.utils.vector_to_parameters(flat, model.parameters())
    return version
