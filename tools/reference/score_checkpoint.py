"""Scores a weight-score decoder checkpoint (ours or PyTorch-exported) with the PyTorch reference, for the C# side to
compare: the model comes from the checkpoint's tensors and card, the batch from INPUT (features [B, T, F] zero past
each length, lengths [B]); writes score [B], weights [B, T] and clip_scores [B, T] (model units, eval mode) to OUT.

usage: score_checkpoint.py CHECKPOINT INPUT_SAFETENSORS OUT_SAFETENSORS
"""
import json
import sys

import torch

from aqa_reference import WeightScoreDecoder, options_from_card, read_safetensors, write_safetensors, CARD_KEY


def main():
    checkpoint, inputs, out = sys.argv[1], sys.argv[2], sys.argv[3]
    weights, meta = read_safetensors(checkpoint)
    options = options_from_card(json.loads(meta[CARD_KEY]))
    model = WeightScoreDecoder(options)
    model.load_state_dict(weights, strict=True)
    model.eval()
    batch, _ = read_safetensors(inputs)
    feats, lengths = batch["features"], batch["lengths"].long()
    with torch.no_grad():
        score, w, s, _, _, _ = model(feats, lengths, torch.zeros_like(lengths))
    write_safetensors(out, {"score": score, "weights": w, "clip_scores": s})


if __name__ == "__main__":
    main()
