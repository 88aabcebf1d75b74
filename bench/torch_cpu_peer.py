"""The PyTorch CPU peer for bench/cpu-throughput.mjs: the same CIFAR ResNet-18 (scripts/torch_resnet.py),
same widths, batch sizes and thread count, random data already in memory. Prints one JSON line."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from torch_resnet import ResNet18  # noqa: E402


def measure(width, batch, eval_batch, steps, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ResNet18(10, 3, width)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    train = steps * batch / (time.perf_counter() - start)
    model.eval()
    xe = torch.randn(eval_batch, 3, 32, 32)
    with torch.no_grad():
        model(xe)
        start = time.perf_counter()
        model(xe)
        evaluation = eval_batch / (time.perf_counter() - start)
    return {"train": train, "eval": evaluation}


if __name__ == "__main__":
    configs = json.loads(sys.argv[1])
    out = {"torch": torch.__version__, "results": [measure(c["width"], c["batch"], c["evalBatch"], c["steps"], c["threads"]) for c in configs]}
    print(json.dumps(out))
