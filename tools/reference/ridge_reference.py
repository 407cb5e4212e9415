"""NumPy reference of AqaStream's ridge-mean baseline (MeanPooledRidge.Solve), for the parity test.

Input (JSON file): {"alpha": A, "samples": [{"clips": T, "features": [T*D floats, row-major], "score": y}, ...]}.
Output (stdout, JSON): coefficients (per raw feature), intercept and length coefficient of
    y ~ beta . mean(x) + b + g * ln(T),
where the features are standardised (population sd), beta is penalised by A * ||beta||^2 and [1, ln T] are not
(solved here in the primal with an explicit penalty matrix: an independent route to the same minimiser).
"""
import json
import sys

import numpy as np


def main(path):
    data = json.load(open(path))
    alpha = float(data["alpha"])
    rows, lengths, y = [], [], []
    for s in data["samples"]:
        t = int(s["clips"])
        f = np.asarray(s["features"], dtype=np.float64).reshape(t, -1)
        rows.append(f.mean(axis=0))
        lengths.append(np.log(t))
        y.append(float(s["score"]))
    x = np.asarray(rows)
    y = np.asarray(y)
    mu = x.mean(axis=0)
    sd = x.std(axis=0) + 1e-8
    z = (x - mu) / sd
    design = np.column_stack([z, np.ones(len(y)), np.asarray(lengths)])
    d = z.shape[1]
    penalty = np.zeros((d + 2, d + 2))
    penalty[:d, :d] = alpha * np.eye(d)
    theta = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    beta, b, g = theta[:d], theta[d], theta[d + 1]
    coefficients = beta / sd
    intercept = b - float(np.sum(beta * mu / sd))
    json.dump({"coefficients": coefficients.tolist(), "intercept": intercept, "length": float(g)}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
