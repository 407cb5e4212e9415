"""Parity fixture: build the reference model in PyTorch, export it as a safetensors checkpoint with its model card,
run a batch through it and write outputs, attention loss and parameter gradients for the C# side to compare.

usage: parity.py OPTIONS_JSON OUT_DIR SEED
"""
import json
import sys

import torch

from aqa_reference import WeightScoreDecoder, card_for, write_safetensors, CARD_KEY


def main():
    options, out, seed = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    torch.manual_seed(seed)
    model = WeightScoreDecoder(options)
    card = card_for(options, seed)
    write_safetensors(f"{out}/model.safetensors", model.state_dict(), {CARD_KEY: json.dumps(card), "format": "pt"})

    B, T = 3, options["maxQueries"] - 4
    feats = torch.randn(B, T, options["featureDim"])
    lengths = torch.tensor([T, T - 2, T - 3])
    first = torch.tensor([0, 3, 1])
    target = torch.rand(B)
    for b in range(B):
        feats[b, lengths[b]:] = 0
    model.train()  # dropout is 0 in the fixture's options; train() keeps the slow, exact attention path
    score, w, s, att, self_maps, cross_maps = model(feats, lengths, first, with_att_loss=True, need_maps=True)
    loss = torch.mean((score - target) ** 2) + att
    loss.backward()
    tensors = {"features": feats, "lengths": lengths.float(), "first": first.float(), "target": target,
               "score": score, "weights": w, "clip_scores": s, "attention_loss": att.reshape(1), "loss": loss.reshape(1)}
    for i, (sm, cm) in enumerate(zip(self_maps, cross_maps)):
        tensors[f"self_map.{i}"] = sm
        tensors[f"cross_map.{i}"] = cm
    for name, p in model.named_parameters():
        tensors[f"grad.{name}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    write_safetensors(f"{out}/expected.safetensors", {k: v.detach() for k, v in tensors.items()})


if __name__ == "__main__":
    main()
