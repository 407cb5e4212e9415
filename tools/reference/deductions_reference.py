"""PyTorch reference of AqaStream's deduction detector (ClipDeductions.Fit), for the parity test.

Input (JSON file): {"penalty": L, "steps": S, "lr": R,
                    "samples": [{"clips": T, "features": [T*D floats, row-major], "deductions": y}, ...]}.
Output (stdout, JSON): the detector's weights v (per feature) and bias c after S full-batch steps of torch.optim.Adam
(PyTorch's defaults otherwise) on the multiple-instance Poisson loss
    (1/n) sum_i (n_i - y_i ln(n_i + 1e-6)) + L ||v||^2,   n_i = sum_q sigmoid(v . x_iq + c),
from v = 0 and c = logit(r), r = (mean deductions / mean clip count) clamped to [1e-4, 0.5]. The gradients come from
autograd: an independent route to the hand-written ones.
"""
import json
import math
import sys

import torch


def main(path):
    data = json.load(open(path))
    penalty, steps, lr = float(data["penalty"]), int(data["steps"]), float(data["lr"])
    clips = [torch.tensor(s["features"], dtype=torch.float32).reshape(int(s["clips"]), -1) for s in data["samples"]]
    y = torch.tensor([float(s["deductions"]) for s in data["samples"]], dtype=torch.float32)
    rate = min(max(float(y.double().mean()) / (sum(c.shape[0] for c in clips) / len(clips)), 1e-4), 0.5)
    v = torch.zeros(clips[0].shape[1], requires_grad=True)
    c = torch.tensor(math.log(rate / (1 - rate)), dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([v, c], lr=lr)
    for _ in range(steps):
        expected = torch.stack([torch.sigmoid(x @ v + c).sum() for x in clips])
        loss = (expected - y * torch.log(expected + 1e-6)).mean() + penalty * (v * v).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    json.dump({"weights": v.detach().tolist(), "bias": float(c.detach())}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
