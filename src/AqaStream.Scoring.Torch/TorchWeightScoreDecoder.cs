using AqaStream.Scoring.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// The interpretable weight-score decoder (the same architecture, options and state_dict names as
/// <c>tools/reference/aqa_reference.py</c>) on libtorch through TorchSharp:
/// autograd, any device. Every call runs inside a dispose scope; what it returns is moved out of it, and the caller
/// disposes it (or runs inside its own scope).
/// </summary>
public sealed class TorchWeightScoreDecoder : IDisposable
{
    private readonly List<(string Name, Tensor Value)> _parameters = [];
    private readonly Dictionary<string, Tensor> _byName = new(StringComparer.Ordinal);
    private readonly Tensor _positional;

    /// <summary>[MaxQueries, d] sinusoidal positional table.</summary>
    internal Tensor Positional => _positional;
    private bool _disposed;

    /// <summary>A model with PyTorch's default initialisations drawn from <paramref name="seed"/> (libtorch's generator).</summary>
    public TorchWeightScoreDecoder(DecoderOptions options, Device? device = null, long seed = 0)
        : this(options, device ?? CPU, InitialValues(options, seed))
    {
    }

    private TorchWeightScoreDecoder(DecoderOptions options, Device device, IEnumerable<(string Name, Tensor Value)> values)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Device = device;
        foreach (var (name, value) in values)
        {
            var p = new TorchSharp.Modules.Parameter(value.to(device).detach(), requires_grad: true);
            _parameters.Add((name, p));
            _byName.Add(name, p);
        }
        using var scope = NewDisposeScope();
        _positional = Sinusoid(options.MaxQueries, options.ModelDim).to(device).MoveToOuterDisposeScope();
    }

    /// <summary>The architecture.</summary>
    public DecoderOptions Options { get; }

    /// <summary>Where the parameters live.</summary>
    public Device Device { get; }

    /// <summary>The learnable tensors in state_dict order, named as the PyTorch reference.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> Parameters => _parameters;

    /// <summary>The parameter named <paramref name="name"/>.</summary>
    public Tensor this[string name] => _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"No parameter named '{name}'.");

    /// <summary>Learnable values.</summary>
    public long ParameterCount => _parameters.Sum(p => p.Value.numel());

    /// <summary>
    /// A decoder holding a checkpoint's weights: <paramref name="tensors"/> must name exactly the architecture's
    /// parameters (state_dict names), each with its shape and finite values; anything else is a
    /// <see cref="Data.DataFormatException"/> naming the tensor and <paramref name="source"/>.
    /// </summary>
    public static TorchWeightScoreDecoder Load(DecoderOptions options, IReadOnlyDictionary<string, Checkpoints.NamedTensor> tensors, string source, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tensors);
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new Data.DataFormatException($"{source}: the card's architecture is not valid: {e.Message}", e);
        }
        List<(string Name, long[] Shape)> expected;
        using (NewDisposeScope())
        {
            expected = [.. InitialValues(options, 0).Select(p => (p.Item1, p.Item2.shape))];
        }
        Checkpoints.CheckpointStore.CheckTensors(expected, tensors, source, "the architecture");
        return new TorchWeightScoreDecoder(options, device ?? CPU, expected.Select(p => (p.Name, tensor(tensors[p.Name].Data, p.Shape))));
    }

    /// <summary>The same weights on <paramref name="device"/> (a new model; this one is unchanged).</summary>
    public TorchWeightScoreDecoder To(Device device)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(device);
        return new TorchWeightScoreDecoder(Options, device, _parameters.Select(p => (p.Name, p.Value.detach())));
    }

    /// <summary>The weights as named tensors (state_dict names and order), for a checkpoint.</summary>
    public IReadOnlyList<Checkpoints.NamedTensor> Tensors() =>
        [.. _parameters.Select(p => new Checkpoints.NamedTensor(p.Name, p.Value.detach().cpu().data<float>().ToArray(), [.. p.Value.shape.Select(x => (int)x)]))];

    /// <summary>
    /// Runs the decoder on <paramref name="features"/> [B, T, F] (zero past each sample's length). With
    /// <paramref name="training"/> dropout applies; with <paramref name="withAttentionLoss"/> L_att is computed; with
    /// <paramref name="withMaps"/> the attention maps are returned.
    /// </summary>
    public TorchScorerOutput Forward(Tensor features, long[] lengths, long[] firstPositions, bool training = false, bool withAttentionLoss = false, bool withMaps = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(firstPositions);
        var o = Options;
        if (features.dim() != 3 || features.shape[2] != o.FeatureDim)
        {
            throw new ArgumentException($"Clip features are [{string.Join(", ", features.shape)}]; the model expects [batch, clips, {o.FeatureDim}].", nameof(features));
        }
        var (bsz, t, d) = (features.shape[0], features.shape[1], (long)o.ModelDim);
        if (lengths.Length != bsz || firstPositions.Length != bsz) { throw new ArgumentException("One length and one first position per sample."); }
        for (var b = 0; b < bsz; b++)
        {
            if (firstPositions[b] + t > o.MaxQueries)
            {
                throw new ArgumentException($"A performance of {firstPositions[b] + t} clips exceeds the model's {o.MaxQueries} query positions.");
            }
        }

        using var scope = NewDisposeScope();
        var memory = Memory(features.to(Device));
        var crossKeysValues = Enumerable.Range(0, o.Layers).Select(i => CrossKeyValue(i, memory)).ToArray();
        var result = Decode(crossKeysValues, lengths, firstPositions, training, withAttentionLoss, withMaps);
        result.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>Layer <paramref name="layer"/>'s cross-attention keys and values of the clip memory [.., d] (per clip, so a
    /// live state can keep them).</summary>
    internal (Tensor Key, Tensor Value) CrossKeyValue(int layer, Tensor memory)
    {
        var name = $"decoder.layers.{layer}.multihead_attn";
        var (wk, bk) = InProjection(name, 1);
        var (wv, bv) = InProjection(name, 2);
        return (F.linear(memory, wk, bk), F.linear(memory, wv, bv));
    }

    /// <summary>The clip memory rows (after the optional input projection) of clip features [.., F].</summary>
    internal Tensor Memory(Tensor features) =>
        Options.HasInputProjection ? F.linear(features, this["input_proj.weight"], this["input_proj.bias"]) : features;

    /// <summary>Layer 0's residual after self-attention [1, n, d], its cross-attention query [1, n, d] (none with local
    /// cross-attention) and the query positions (embedding + sinusoid, [1, n, d]) for one performance of
    /// <paramref name="n"/> clips from position 0: layer 0's self-attention sees
    /// the learned queries only, never a clip, so both depend on n alone. The same operations as <see cref="Decode"/>'s
    /// layer 0 at batch 1 (no padding), which can take them instead of recomputing them. Inference only (no dropout);
    /// learned queries only. Runs in the caller's dispose scope.</summary>
    internal (Tensor AfterSelf, Tensor? CrossQuery, Tensor Positions) Layer0QuerySide(long n)
    {
        var o = Options;
        if (o.QueryInit == QueryInitialisation.RedrawEachForward) { throw new InvalidOperationException("Redrawn queries differ on every forward; layer 0 cannot be kept."); }
        var idx = arange(n, device: Device);
        var e = this["query_embed.weight"].index_select(0, idx).unsqueeze(0);
        var pos = e.Plus(_positional.index_select(0, idx).unsqueeze(0));
        var t1 = LayerNorm(e, "decoder.layers.0.norm1");
        var qk = t1.Plus(pos);
        Tensor? causal = o.Causal ? ones(n, n, dtype: ScalarType.Bool, device: Device).triu(1) : null;
        var (sa, _) = Attention("decoder.layers.0.self_attn", qk, qk, t1, null, causal, training: false, withMap: false);
        var x1 = sa.Plus(sa);
        if (o.LocalCross) { return (x1, null, pos); }
        var (wq, bq) = InProjection("decoder.layers.0.multihead_attn", 0);
        return (x1, F.linear(LayerNorm(x1, "decoder.layers.0.norm2").Plus(pos), wq, bq), pos);
    }

    /// <summary>The query side and the head, given each layer's cross-attention keys and values [B, T, d] of the clips
    /// (computed from the memory, or kept by a live state). Runs in the caller's dispose scope. <paramref name="layer0"/>,
    /// when given, is <see cref="Layer0QuerySide"/> of this batch (one performance of T clips from position 0, inference):
    /// layer 0's self-attention is not recomputed and no self-attention map is returned for it.</summary>
    internal TorchScorerOutput Decode((Tensor Key, Tensor Value)[] crossKeysValues, long[] lengths, long[] firstPositions, bool training, bool withAttentionLoss, bool withMaps,
        (Tensor AfterSelf, Tensor? CrossQuery, Tensor Positions)? layer0 = null)
    {
        var o = Options;
        var (bsz, t, d) = (crossKeysValues[0].Key.shape[0], crossKeysValues[0].Key.shape[1], (long)o.ModelDim);
        if (layer0 is { } given && (training || withAttentionLoss || bsz != 1 || firstPositions[0] != 0 || given.AfterSelf.shape[1] != t))
        {
            throw new ArgumentException("A kept layer 0 is for inference on one performance of T clips from position 0.", nameof(layer0));
        }
        Tensor x, pos;
        if (layer0 is { } table)
        {
            // Layer 0 is kept, so the query embeddings are never read; the positions come with it.
            (x, pos) = (table.Positions, table.Positions);
        }
        else
        {
            var idx = tensor(firstPositions, device: Device).unsqueeze(1) + arange(t, device: Device).unsqueeze(0); // [B, T]
            var e = o.QueryInit == QueryInitialisation.RedrawEachForward
                ? randn(bsz, t, d, device: Device) * o.QueryInitStd
                : this["query_embed.weight"].index_select(0, idx.flatten()).reshape(bsz, t, d);
            x = e;
            pos = e.Plus(_positional.index_select(0, idx.flatten()).reshape(bsz, t, d));
        }
        var anyPadded = lengths.Any(l => l < t);
        Tensor? keyMask = o.MaskPadding && anyPadded
            ? arange(t, device: Device).unsqueeze(0) >= tensor(lengths, device: Device).unsqueeze(1) // [B, T]
            : null;
        Tensor? causal = o.Causal ? ones(t, t, dtype: ScalarType.Bool, device: Device).triu(1) : null;
        Tensor? attLoss = null;
        var selfMaps = new List<Tensor>();
        var crossMaps = new List<Tensor>();
        for (var i = 0; i < o.Layers; i++)
        {
            var prefix = $"decoder.layers.{i}";
            Tensor sa, x1;
            Tensor? sMap = null;
            var kept = i == 0 ? layer0 : null;
            if (kept is { } k0)
            {
                x1 = k0.AfterSelf;
                sa = x1;   // only read by the attention loss, which a kept layer 0 excludes
            }
            else
            {
                // Self-attention: q = k = LN1(x) + p, v = LN1(x); the reference keeps no residual from x: x1 = S + Dropout(S).
                var t1 = LayerNorm(x, $"{prefix}.norm1");
                var qk = t1.Plus(pos);
                (sa, sMap) = Attention($"{prefix}.self_attn", qk, qk, t1, keyMask, causal, training, withMaps);
                x1 = sa.Plus(Dropout(sa, o.Dropout, training));
            }
            Tensor c;
            Tensor? cMap;
            var (crossKey, crossValue) = crossKeysValues[i];
            if (o.LocalCross)
            {
                // Query q attends to clip q alone: softmax over one key is 1, so the output is clip q's value row.
                c = Linear(crossValue, $"{prefix}.multihead_attn.out_proj");
                cMap = withMaps ? eye(t, device: Device).expand(bsz, o.Heads, t, t).clone() : null;
            }
            else
            {
                Tensor q;
                if (kept is { CrossQuery: { } keptQuery }) { q = keptQuery; }
                else
                {
                    var (wq, bq) = InProjection($"{prefix}.multihead_attn", 0);
                    q = F.linear(LayerNorm(x1, $"{prefix}.norm2").Plus(pos), wq, bq);
                }
                (c, cMap) = AttendProjected($"{prefix}.multihead_attn", q, crossKey, crossValue, keyMask, causal, training, withMaps);
            }
            var x2 = x1.Plus(Dropout(c, o.Dropout, training));
            x = FeedForward(x2, prefix, training);
            if (sMap is not null) { selfMaps.Add(sMap); }
            if (cMap is not null) { crossMaps.Add(cMap); }
            if (withAttentionLoss)
            {
                var l = AttentionLossOf(sa, c, o.MaskPadding && anyPadded ? lengths : null);
                attLoss = attLoss is null ? l : attLoss + l;
            }
        }
        var h = LayerNorm(x, "decoder.norm");
        var clipScores = Mlp(h, "mean");
        var logits = Mlp(h, "weight");
        if (keyMask is not null) { logits = logits.masked_fill(keyMask, TorchScalars.NegativeInfinity); }
        var weights = F.softmax(logits, -1);
        var score = (weights * clipScores).sum(-1);
        if (attLoss is not null) { attLoss = attLoss * (o.AttentionLossWeight / bsz); }
        return new TorchScorerOutput(score, weights, clipScores, logits, attLoss, selfMaps, crossMaps);
    }

    /// <summary>x3 = x2 + Dropout(W2 · Dropout(ReLU(W1 · LN3(x2)))).</summary>
    internal Tensor FeedForward(Tensor x2, string prefix, bool training)
    {
        var p = Options.Dropout;
        // In place on each linear's fresh output (autograd keeps what it needs: addmm its inputs, relu its result).
        var hidden = Dropout(Linear(LayerNorm(x2, $"{prefix}.norm3"), $"{prefix}.linear1").relu_(), p, training);
        return Dropout(Linear(hidden, $"{prefix}.linear2"), p, training).add_(x2, TorchScalars.One);
    }

    /// <summary>L_att of one layer summed over the batch: Σ_rows KL(softmax(C Cᵀ/d) ‖ softmax(S Sᵀ/d)), padded queries left out.</summary>
    private Tensor AttentionLossOf(Tensor s, Tensor c, long[]? lengths)
    {
        var d = (double)Options.ModelDim;
        Tensor Kl(Tensor sb, Tensor cb)
        {
            var gd = sb.matmul(sb.transpose(-1, -2)) / d;
            var ge = cb.matmul(cb.transpose(-1, -2)) / d;
            var target = F.softmax(ge, -1);
            return (target * (F.log_softmax(ge, -1) - F.log_softmax(gd, -1))).sum();
        }
        if (lengths is null) { return Kl(s, c); }
        Tensor? total = null;
        for (var b = 0; b < lengths.Length; b++)
        {
            var n = lengths[b];
            var l = Kl(s[b, TensorIndex.Slice(0, n)], c[b, TensorIndex.Slice(0, n)]);
            total = total is null ? l : total + l;
        }
        return total!;
    }

    /// <summary>nn.MultiheadAttention's math (batch first), with its parameter names; maps are [B, H, Tq, Tk].</summary>
    internal (Tensor Output, Tensor? Map) Attention(string name, Tensor query, Tensor key, Tensor value, Tensor? keyMask, Tensor? causal, bool training, bool withMap)
    {
        var (wq, bq) = InProjection(name, 0);
        var (wk, bk) = InProjection(name, 1);
        var (wv, bv) = InProjection(name, 2);
        return AttendProjected(name, F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv), keyMask, causal, training, withMap);
    }

    /// <summary>Multi-head attention of projected queries [B, Tq, d] over projected keys and values [B, Tk, d], then the
    /// out-projection. <paramref name="keyMask"/> [B, Tk] is true where a key is left out; <paramref name="causal"/>
    /// [Tq, Tk] likewise.</summary>
    internal (Tensor Output, Tensor? Map) AttendProjected(string name, Tensor q, Tensor k, Tensor v, Tensor? keyMask, Tensor? causal, bool training, bool withMap)
    {
        var o = Options;
        var (bsz, tq, tk) = (q.shape[0], q.shape[1], k.shape[1]);
        var heads = o.Heads;
        var dh = o.ModelDim / heads;
        var qh = q.view(bsz, tq, heads, dh).transpose(1, 2);
        var kh = k.view(bsz, tk, heads, dh).transpose(1, 2);
        var vh = v.view(bsz, tk, heads, dh).transpose(1, 2);
        var scores = qh.matmul(kh.transpose(-1, -2)).div_(TorchScalars.Of(Math.Sqrt(dh))); // [B, H, Tq, Tk]
        if (keyMask is not null) { scores.masked_fill_(keyMask.view(bsz, 1, 1, tk), TorchScalars.NegativeInfinity); }
        if (causal is not null) { scores.masked_fill_(causal, TorchScalars.NegativeInfinity); }
        var p = F.softmax(scores, -1);
        var attended = Dropout(p, o.AttentionDropout, training).matmul(vh).transpose(1, 2).reshape(bsz, tq, o.ModelDim);
        return (Linear(attended, $"{name}.out_proj"), withMap ? p : null);
    }

    /// <summary>Dropout in training; the tensor itself otherwise (F.dropout in eval returns its input, through a native
    /// call a live step can do without).</summary>
    private static Tensor Dropout(Tensor x, double p, bool training) => training && p > 0 ? F.dropout(x, p, training: true) : x;

    /// <summary>Rows part·d..(part+1)·d of the packed in-projection (0 query, 1 key, 2 value).</summary>
    internal (Tensor Weight, Tensor Bias) InProjection(string name, int part)
    {
        var d = Options.ModelDim;
        return (this[$"{name}.in_proj_weight"].narrow(0, part * d, d), this[$"{name}.in_proj_bias"].narrow(0, part * d, d));
    }

    internal Tensor Linear(Tensor x, string name) => F.linear(x, this[$"{name}.weight"], this[$"{name}.bias"]);

    internal Tensor LayerNorm(Tensor x, string name) => F.layer_norm(x, [Options.ModelDim], this[$"{name}.weight"], this[$"{name}.bias"], 1e-5);

    internal Tensor Mlp(Tensor h, string kind)
    {
        var a = Linear(h, $"head.layer1_{kind}").relu_();
        var b = Linear(a, $"head.layer2_{kind}").relu_();
        return Linear(b, $"head.layer3_{kind}").squeeze(-1);
    }

    /// <summary>The sinusoidal table [positions, d] (<see cref="PositionalEncoding"/>, the reference's formula).</summary>
    private static Tensor Sinusoid(int positions, int d)
    {
        var table = new float[positions * d];
        for (var pos = 0; pos < positions; pos++) { PositionalEncoding.Write(pos, table.AsSpan(pos * d, d)); }
        return tensor(table, [positions, d]);
    }

    /// <summary>PyTorch's default initialisations, in state_dict order: nn.Linear U(±1/√in); nn.MultiheadAttention
    /// xavier-uniform in-projection, zero biases; LayerNorm ones and zeros; query embedding N(0, std).</summary>
    private static List<(string, Tensor)> InitialValues(DecoderOptions o, long seed)
    {
        o.Validate();
        using var generator = new Generator((ulong)seed);
        var d = o.ModelDim;
        var list = new List<(string, Tensor)>();
        Tensor Uniform(double bound, params long[] shape) => rand(shape, generator: generator) * (2 * bound) - bound;
        void Linear(string name, int inF, int outF)
        {
            var bound = 1.0 / Math.Sqrt(inF);
            list.Add(($"{name}.weight", Uniform(bound, outF, inF)));
            list.Add(($"{name}.bias", Uniform(bound, outF)));
        }
        void LayerNormParams(string name)
        {
            list.Add(($"{name}.weight", ones(d)));
            list.Add(($"{name}.bias", zeros(d)));
        }
        void Mha(string name)
        {
            list.Add(($"{name}.in_proj_weight", Uniform(Math.Sqrt(6.0 / (d + 3 * d)), 3 * d, d)));
            list.Add(($"{name}.in_proj_bias", zeros(3 * d)));
            list.Add(($"{name}.out_proj.weight", Uniform(1.0 / Math.Sqrt(d), d, d)));
            list.Add(($"{name}.out_proj.bias", zeros(d)));
        }
        if (o.HasInputProjection) { Linear("input_proj", o.FeatureDim, d); }
        list.Add(("query_embed.weight", randn([o.MaxQueries, d], generator: generator) * o.QueryInitStd));
        for (var i = 0; i < o.Layers; i++)
        {
            var n = $"decoder.layers.{i}";
            Mha($"{n}.self_attn");
            Mha($"{n}.multihead_attn");
            Linear($"{n}.linear1", d, o.EffectiveFeedForwardDim);
            Linear($"{n}.linear2", o.EffectiveFeedForwardDim, d);
            LayerNormParams($"{n}.norm1");
            LayerNormParams($"{n}.norm2");
            LayerNormParams($"{n}.norm3");
        }
        LayerNormParams("decoder.norm");
        foreach (var kind in new[] { "mean", "weight" })
        {
            Linear($"head.layer1_{kind}", d, o.HeadHidden1);
            Linear($"head.layer2_{kind}", o.HeadHidden1, o.HeadHidden2);
            Linear($"head.layer3_{kind}", o.HeadHidden2, 1);
        }
        // The reference's state_dict order (head: mean MLP, then weight MLP).
        return list;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) { return; }
        _disposed = true;
        foreach (var (_, p) in _parameters) { p.Dispose(); }
        _positional.Dispose();
    }
}

/// <summary>What the decoder says about a batch (normalised scale): [B] score, [B, T] weights, clip scores and
/// logits, the attention loss when asked, the attention maps per layer when asked.</summary>
public sealed record TorchScorerOutput(Tensor Score, Tensor Weights, Tensor ClipScores, Tensor Logits, Tensor? AttentionLoss,
    IReadOnlyList<Tensor> SelfAttention, IReadOnlyList<Tensor> CrossAttention) : IDisposable
{
    private IEnumerable<Tensor> All => new[] { Score, Weights, ClipScores, Logits, AttentionLoss }.OfType<Tensor>().Concat(SelfAttention).Concat(CrossAttention);

    /// <summary>Moves every tensor out of the current dispose scope.</summary>
    public void MoveToOuterDisposeScope()
    {
        foreach (var t in All) { t.MoveToOuterDisposeScope(); }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in All) { t.Dispose(); }
    }
}
