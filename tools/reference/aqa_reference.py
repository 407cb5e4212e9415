"""PyTorch reference of AqaStream's weight-score decoder (ARCHITECTURE.md, "The scorer").

The same architecture, parameter names and options as src/AqaStream.Scoring/Model/WeightScoreDecoder.cs, so one
safetensors file drives both. Used by the parity test (outputs, attention loss, gradients) and as the peer in
`./aqa bench scorer`. Runs with Debian's python3-torch (/usr/bin/python3); needs nothing else.
"""
import json
import math
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

CARD_KEY = "model_card"


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    dtypes = {"F32": torch.float32, "F16": torch.float16}
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + b:base + end]), dtype=dtypes[e["dtype"]]).clone()
        tensors[name] = t.reshape(e["shape"]).float()
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().tobytes() if hasattr(t, "numpy") else bytes(t)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    js = json.dumps(header).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def options_from_card(card):
    a = dict(card["architecture"])
    a.setdefault("feedForwardDim", 0)
    return a


def sinusoid(positions, d):
    """PE(pos, 2i) = sin(pos * w_i), PE(pos, 2i+1) = cos(pos * w_i), w_i = exp(2i * -(ln 10000 / d)), float32."""
    omega = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * torch.tensor(-(math.log(10000.0) / d), dtype=torch.float32))
    angle = positions.float().unsqueeze(-1) * omega
    pe = torch.zeros(*positions.shape, d)
    pe[..., 0::2] = torch.sin(angle)
    pe[..., 1::2] = torch.cos(angle)
    return pe


class DecoderLayer(nn.Module):
    def __init__(self, d, heads, ffn, dropout, attn_dropout, local_cross=False):
        super().__init__()
        self.local_cross = local_cross
        self.self_attn = nn.MultiheadAttention(d, heads, dropout=attn_dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(d, heads, dropout=attn_dropout, batch_first=True)
        self.linear1 = nn.Linear(d, ffn)
        self.linear2 = nn.Linear(ffn, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, x, memory, pos, kpm, attn_mask, need_maps):
        t = self.norm1(x)
        qk = t + pos
        s, sw = self.self_attn(qk, qk, t, key_padding_mask=kpm, attn_mask=attn_mask,
                               need_weights=need_maps, average_attn_weights=False)
        x1 = s + self.dropout1(s)  # the reference keeps no residual from x here
        q = self.norm2(x1) + pos
        if self.local_cross:
            # localCross: query q attends to clip q alone, so the output is clip q's value row, projected out.
            d = memory.shape[-1]
            mha = self.multihead_attn
            c = mha.out_proj(F.linear(memory, mha.in_proj_weight[2 * d:], mha.in_proj_bias[2 * d:]))
            B, T = memory.shape[0], memory.shape[1]
            cw = torch.eye(T).expand(B, mha.num_heads, T, T).clone() if need_maps else None
        else:
            c, cw = self.multihead_attn(q, memory, memory, key_padding_mask=kpm, attn_mask=attn_mask,
                                        need_weights=need_maps, average_attn_weights=False)
        x2 = x1 + self.dropout2(c)
        h = self.linear2(self.dropout(F.relu(self.linear1(self.norm3(x2)))))
        return x2 + self.dropout3(h), s, c, sw, cw


class Head(nn.Module):
    def __init__(self, d, h1, h2):
        super().__init__()
        for kind in ("mean", "weight"):
            setattr(self, f"layer1_{kind}", nn.Linear(d, h1))
            setattr(self, f"layer2_{kind}", nn.Linear(h1, h2))
            setattr(self, f"layer3_{kind}", nn.Linear(h2, 1))

    def mlp(self, h, kind):
        h = F.relu(getattr(self, f"layer1_{kind}")(h))
        h = F.relu(getattr(self, f"layer2_{kind}")(h))
        return getattr(self, f"layer3_{kind}")(h).squeeze(-1)


class Decoder(nn.Module):
    def __init__(self, o):
        super().__init__()
        d = o["modelDim"]
        ffn = o["feedForwardDim"] or d
        self.layers = nn.ModuleList(
            DecoderLayer(d, o["heads"], ffn, o["dropout"], o["attentionDropout"], o.get("localCross", False)) for _ in range(o["layers"]))
        self.norm = nn.LayerNorm(d)


class WeightScoreDecoder(nn.Module):
    def __init__(self, o):
        super().__init__()
        self.o = o
        d = o["modelDim"]
        if d != o["featureDim"]:
            self.input_proj = nn.Linear(o["featureDim"], d)
        self.query_embed = nn.Embedding(o["maxQueries"], d)
        nn.init.normal_(self.query_embed.weight, 0.0, o["queryInitStd"])
        self.decoder = Decoder(o)
        self.head = Head(d, o["headHidden1"], o["headHidden2"])

    def forward(self, feats, lengths, first, with_att_loss=False, need_maps=False):
        o = self.o
        B, T, _ = feats.shape
        d = o["modelDim"]
        memory = self.input_proj(feats) if hasattr(self, "input_proj") else feats
        idx = first.unsqueeze(1) + torch.arange(T).unsqueeze(0)
        if o.get("queryInit", "Learned") == "RedrawEachForward":
            e = torch.randn(B, T, d) * o["queryInitStd"]
        else:
            e = self.query_embed(idx)
        x, pos = e, e + sinusoid(idx, d)
        padded = torch.arange(T).unsqueeze(0) >= lengths.unsqueeze(1)
        kpm = padded if (o["maskPadding"] and bool(padded.any())) else None
        attn_mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1) if o["causal"] else None
        att_loss = torch.zeros(())
        self_maps, cross_maps = [], []
        for layer in self.decoder.layers:
            x, s, c, sw, cw = layer(x, memory, pos, kpm, attn_mask, need_maps)
            self_maps.append(sw)
            cross_maps.append(cw)
            if with_att_loss and kpm is None:
                gd = s @ s.transpose(1, 2) / d
                ge = c @ c.transpose(1, 2) / d
                att_loss = att_loss + F.kl_div(F.log_softmax(gd, -1), F.softmax(ge, -1), reduction="sum")
            elif with_att_loss:
                for b in range(B):
                    n = int(lengths[b]) if o["maskPadding"] else T
                    gd = s[b, :n] @ s[b, :n].T / d
                    ge = c[b, :n] @ c[b, :n].T / d
                    att_loss = att_loss + F.kl_div(F.log_softmax(gd, -1), F.softmax(ge, -1), reduction="sum")
        h = self.decoder.norm(x)
        s_q = self.head.mlp(h, "mean")
        a_q = self.head.mlp(h, "weight")
        if kpm is not None:
            a_q = a_q.masked_fill(kpm, float("-inf"))
        w = torch.softmax(a_q, -1)
        score = (w * s_q).sum(-1)
        att_loss = att_loss * o.get("attentionLossWeight", 1.0) / B
        return score, w, s_q, att_loss, self_maps, cross_maps


def default_options(**overrides):
    o = {"featureDim": 1024, "modelDim": 1024, "layers": 2, "heads": 4, "feedForwardDim": 0, "dropout": 0.7,
         "attentionDropout": 0.7, "headHidden1": 512, "headHidden2": 256, "maxQueries": 320, "queryInitStd": 5.0,
         "queryInit": "Learned", "maskPadding": True, "causal": False, "localCross": False, "attentionLossWeight": 1.0}
    o.update(overrides)
    return o


def card_for(o, seed):
    return {"format": "aqastream.weight-score-decoder/1", "modelId": "torch-export", "architecture": o,
            "target": "TES", "scoreScale": 43.0, "seed": seed}
