"""Reference checks against PyTorch, run by hand with a Python that has torch and safetensors
(see check-torch.sh). Not part of the test suite: the project itself never needs Python.

  interop CKPT BATCH          insalun checkpoint -> PyTorch: eval logits on the same images
  save-torch OUT [classes in_channels width]   a PyTorch-initialized state_dict (for the reverse)
  masks CKPT BATCH MASKDIR [steps rule]        grad and IG top-50% masks computed here vs insalun's
"""
import sys

import torch
from safetensors.torch import load_file, save_file

from torch_resnet import ResNet18, load_insalun


def interop(ckpt, batch):
    model, _ = load_insalun(ckpt)
    model.eval()
    b = load_file(batch)
    with torch.no_grad():
        logits = model(b["x"])
    diff = (logits - b["logits"]).abs().max().item()
    agree = (logits.argmax(1) == b["logits"].argmax(1)).float().mean().item()
    print(f"PyTorch vs insalun eval logits on {len(b['x'])} images: max |diff| {diff:.3e}, argmax agreement {100 * agree:.2f}%")
    return diff


def save_torch(out, classes=10, in_channels=3, width=64):
    torch.manual_seed(0)
    model = ResNet18(int(classes), int(in_channels), int(width))
    # a few training steps so running statistics and counters are not at their initial values
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.randn(8, int(in_channels), 32, 32)), torch.randint(0, int(classes), (8,))).backward()
        opt.step()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    print(f"wrote a PyTorch state_dict to {out}")


def top_half(scores):
    flat = torch.cat([s.flatten() for s in scores.values()])
    k = int(flat.numel() * 0.5)
    # the k largest; ties broken by index as insalun does (stable sort of -score)
    order = torch.sort(-flat, stable=True).indices[:k]
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[order] = True
    return mask


def masks(ckpt, batch, mask_dir, steps=20, rule="middle"):
    model, _ = load_insalun(ckpt)
    model = model.double().eval()
    b = load_file(batch)
    x, y = b["x"].double(), b["y"]
    names = [n for n, _ in model.named_parameters()]
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}

    def forget_grad(params, scale):
        """Sum over batches of 256 of the gradient of scale * batch-mean CE (eval mode)."""
        total = {n: torch.zeros_like(p) for n, p in params.items()}
        for start in range(0, len(x), 256):
            loss = scale * torch.nn.functional.cross_entropy(torch.func.functional_call(model, params, (x[start:start + 256],)), y[start:start + 256])
            for n, g in zip(params, torch.autograd.grad(loss, list(params.values()))):
                total[n] += g
        return total

    def req(params):
        return {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}

    grad = {n: g.abs() for n, g in forget_grad(req(theta), -1.0).items()}
    m = int(steps)
    if rule == "middle":
        nodes = [(k - 0.5) / m for k in range(1, m + 1)]
    else:
        raise SystemExit("only the middle rule is implemented in this reference")
    acc = {n: torch.zeros_like(p) for n, p in theta.items()}
    for a in nodes:
        g = forget_grad(req({n: a * p for n, p in theta.items()}), 1.0)  # zero baseline
        for n in acc:
            acc[n] += g[n] / m
    ig = {n: (theta[n] * acc[n]).abs() for n in theta}
    for method, scores in (("grad", grad), ("ig", ig)):
        mine = load_file(f"{mask_dir}/mask_{method}_0.5.safetensors")
        ours = torch.cat([mine[n].flatten().bool() for n in names])
        ref = top_half({n: scores[n] for n in names})
        overlap = (ours & ref).sum().item() / ref.sum().item()
        print(f"{method} top-50% mask: overlap with the PyTorch float64 reference {100 * overlap:.3f}%")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"interop": interop, "save-torch": save_torch, "masks": masks}[command](*args)
