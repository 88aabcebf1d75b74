"""The strongest PyTorch peer, measured in the same device run: torch.compile with CUDA graphs
(mode="reduce-overhead"), bf16 autocast, channels_last, the CIFAR ResNet-18 and training step of
the shared anchor (torch_anchor.py, found beside this file's caller in .device/ or on PYTHONPATH).
The anchor itself times only torch.compile's default mode; this is the peer the project is to beat.
Usage: OUT=DIR python3 scripts/torch_compile_graphs.py [BATCH ...]   (default 256 512)
Writes DIR/torch_compile_graphs.json: {"train bf16 CL bsN torch.compile reduce-overhead": {...}}.
"""
import json
import os
import sys
import time

sys.path[:0] = [os.path.join(os.getcwd(), ".device"), os.getcwd()]
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch_anchor import ResNet18, dev, timed  # noqa: E402


def train_graphs(bs):
    torch.manual_seed(0)
    m = ResNet18().to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, fused=True)
    x = torch.randn(bs, 3, 32, 32, device=dev).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (bs,), device=dev)
    fwd = torch.compile(m, mode="reduce-overhead")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(fwd(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed(step, 20, 8)


if __name__ == "__main__":
    results = {}
    for bs in [int(b) for b in sys.argv[1:]] or [256, 512]:
        started = time.time()
        name = f"train bf16 CL bs{bs} torch.compile reduce-overhead"
        try:
            ms = train_graphs(bs)
            results[name] = {"ms_per_step": round(ms, 4), "img_per_s": round(bs / ms * 1000, 1)}
            print(f"{name:56s} {ms:9.3f} ms/step {bs / ms * 1000:12.1f} img/s "
                  f"(compile and warm-up included: {time.time() - started:.0f} s)", flush=True)
        except Exception as e:  # noqa: BLE001
            print(f"{name} failed: {repr(e)[:300]}", flush=True)
        # Written after every case, so a time-out keeps what was measured.
        with open(os.path.join(os.environ.get("OUT", "."), "torch_compile_graphs.json"), "w") as f:
            json.dump(results, f, indent=1)
