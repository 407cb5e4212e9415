"""Times the PyTorch reference at the sizes `./aqa bench scorer` uses and prints one JSON line.

usage: bench.py OPTIONS_JSON THREADS ITERATIONS CLIPS TRAIN_BATCH
"""
import json
import os
import sys
import time

import torch

from aqa_reference import WeightScoreDecoder


def median_ms(fn, iterations):
    fn()  # warm-up
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


def main():
    options = json.loads(sys.argv[1])
    threads, iterations, clips, batch = (int(a) for a in sys.argv[2:6])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = WeightScoreDecoder(options)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-5)

    x1 = torch.randn(1, clips, options["featureDim"])
    l1, f1 = torch.tensor([clips]), torch.tensor([0])

    def infer():
        with torch.no_grad():
            model(x1, l1, f1)

    xb = torch.randn(batch, clips, options["featureDim"])
    lb, fb, yb = torch.full((batch,), clips), torch.zeros(batch, dtype=torch.long), torch.rand(batch)

    def train_step():
        score, _, _, att, _, _ = model(xb, lb, fb, with_att_loss=True)
        loss = torch.mean((score + 0.05 * torch.randn(batch) - yb) ** 2) + att
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.eval()
    forward_ms = median_ms(infer, iterations)
    model.train()
    train_ms = median_ms(train_step, max(2, iterations // 4))
    print(json.dumps({"forward_ms": forward_ms, "train_step_ms": train_ms, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}))


if __name__ == "__main__":
    main()
