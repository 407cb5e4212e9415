using AqaStream.Numerics;

namespace AqaStream.Scoring.Model;

/// <summary>
/// The interpretable weight-score decoder (Dong et al., BMVC 2024, as coded in the reference; see
/// ARCHITECTURE.md "The scorer"): a 2-layer pre-LN transformer decoder whose queries are clip positions
/// (x₀ = e, p = e + PE), attending to clip features; a weight-score head gives each query a weight and a score.
/// </summary>
public sealed partial class WeightScoreDecoder : IClipScorer
{
    private readonly LayerParameters[] _layers;
    private readonly Tensor? _inputProjWeight;
    private readonly Tensor? _inputProjBias;
    private readonly Tensor _queryEmbed;
    private readonly Tensor _finalNormWeight;
    private readonly Tensor _finalNormBias;
    private readonly Tensor[] _scoreHead;
    private readonly Tensor[] _weightHead;
    private readonly Lazy<float[]> _positionalTable;
    private readonly Dictionary<(int First, int Length), QuerySide> _querySideCache = [];
    private long _querySideVersion = -1;

    /// <summary>Distinct (first position, length) query sides kept (about 0.6 MB each at d = 256, 138 clips); Fis-V has
    /// under 200 distinct lengths. The cache is emptied when full.</summary>
    private const int MaxCachedQuerySides = 256;

    /// <summary>The method name of this decoder (the main paper's).</summary>
    public const string MethodName = "ilt-aqa";

    /// <inheritdoc/>
    public string Method => MethodName;

    /// <inheritdoc/>
    public int FeatureDim => Options.FeatureDim;

    /// <inheritdoc/>
    public int MaxClips => Options.MaxQueries;

    /// <inheritdoc/>
    public bool Causal => Options.Causal;

    /// <inheritdoc/>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<Data.PerformanceSample> samples, float scoreScale) =>
        new PerformanceScorer(this, scoreScale).Score(samples);

    /// <summary>Builds the model with PyTorch's default initialisations, drawn from <paramref name="seed"/>.</summary>
    public WeightScoreDecoder(DecoderOptions options, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        var rng = new Random(seed);
        var d = options.ModelDim;
        var p = new ParameterSet();
        if (options.HasInputProjection)
        {
            (_inputProjWeight, _inputProjBias) = AddLinear(p, "input_proj", options.FeatureDim, d, rng);
        }
        var embed = new float[options.MaxQueries * d];
        Gaussian.Fill(embed, rng, 0f, options.QueryInitStd);
        _queryEmbed = p.Add("query_embed.weight", embed, options.MaxQueries, d);
        _layers = new LayerParameters[options.Layers];
        for (var i = 0; i < options.Layers; i++)
        {
            _layers[i] = LayerParameters.Create(p, $"decoder.layers.{i}", d, options.EffectiveFeedForwardDim, rng);
        }
        (_finalNormWeight, _finalNormBias) = AddLayerNorm(p, "decoder.norm", d);
        _scoreHead = AddMlp(p, "head", "mean", d, options, rng);
        _weightHead = AddMlp(p, "head", "weight", d, options, rng);
        Parameters = p;
        _positionalTable = new Lazy<float[]>(() =>
        {
            var table = new float[options.MaxQueries * d];
            for (var pos = 0; pos < options.MaxQueries; pos++) { PositionalEncoding.Write(pos, table.AsSpan(pos * d, d)); }
            return table;
        });
    }

    /// <summary>The architecture.</summary>
    public DecoderOptions Options { get; }

    /// <summary>All learnable tensors, named as the PyTorch reference's state_dict.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>
    /// Runs the decoder. With <paramref name="training"/> dropout applies (drawn from <paramref name="rng"/>);
    /// with <paramref name="withAttentionLoss"/> L_att is computed (training needs it, inference does not).
    /// </summary>
    public ScorerOutput Forward(ScorerBatch batch, bool training = false, Random? rng = null, bool withAttentionLoss = false)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var o = Options;
        if (batch.FeatureDim != o.FeatureDim)
        {
            throw new ArgumentException($"Clip features are {batch.FeatureDim} wide; the model expects {o.FeatureDim}.");
        }
        var (bsz, t) = (batch.BatchSize, batch.Clips);
        for (var b = 0; b < bsz; b++)
        {
            if (batch.FirstPositions[b] + t > o.MaxQueries)
            {
                throw new ArgumentException($"A performance of {batch.FirstPositions[b] + t} clips exceeds the model's {o.MaxQueries} query positions.");
            }
        }
        if (training && rng is null) { throw new ArgumentNullException(nameof(rng), "Training needs a random source for dropout."); }
        rng ??= new Random(0);

        Tensor memory = Tensor.FromData(batch.Features, bsz, t, o.FeatureDim);
        if (_inputProjWeight is not null)
        {
            memory = Ops.Linear(memory, _inputProjWeight, _inputProjBias);
        }
        var crossKeysValues = _layers.Select(l => (CrossKey(l, memory), CrossValue(l, memory))).ToArray();
        return Decode(batch, crossKeysValues, training, rng, withAttentionLoss);
    }

    /// <summary>The query side of the decoder and the head, given each layer's cross-attention keys and values of
    /// the clips (computed from the memory, or kept by an incremental state).</summary>
    private ScorerOutput Decode(ScorerBatch batch, (Tensor Key, Tensor Value)[] crossKeysValues, bool training, Random rng, bool withAttentionLoss)
    {
        var o = Options;
        var (bsz, t) = (batch.BatchSize, batch.Clips);
        var (x, pos) = QueryTerms(batch, rng);
        bool[]? valid = o.MaskPadding && !batch.IsFull ? ValidMask(batch) : null;
        var selfMaps = new List<float[]>(o.Layers);
        var crossMaps = new List<float[]>(o.Layers);
        Tensor? attLoss = null;
        var cacheable = !training && !withAttentionLoss && !Autograd.IsRecording && o.QueryInit == QueryInitialisation.Learned && o.MaskPadding;
        for (var i = 0; i < _layers.Length; i++)
        {
            var layer = _layers[i];
            Tensor x1, crossQuery;
            Tensor? s = null;
            if (i == 0 && cacheable)
            {
                (x1, crossQuery, var selfMap) = CachedQuerySide(batch);
                selfMaps.Add(selfMap);
            }
            else
            {
                (x1, s) = SelfAttentionBlock(layer, x, pos, valid, training, rng, selfMaps);
                crossQuery = CrossQuery(layer, x1, pos);
            }
            var (next, c) = CrossAttentionAndFeedForward(layer, x1, crossQuery, crossKeysValues[i].Key, crossKeysValues[i].Value, valid, training, rng, crossMaps);
            x = next;
            if (withAttentionLoss)
            {
                var l = AttentionLoss.Compute(s!, c, o.MaskPadding ? batch.Lengths : null);
                attLoss = attLoss is null ? l : Ops.Add(attLoss, l);
            }
        }
        var h = Ops.LayerNorm(x, _finalNormWeight, _finalNormBias);
        var clipScores = Ops.Reshape(Mlp(h, _scoreHead), bsz, t);
        var logits = Ops.Reshape(Mlp(h, _weightHead), bsz, t);
        if (valid is not null)
        {
            logits = Ops.MaskedFill(logits, valid.Select(v => !v).ToArray(), float.NegativeInfinity);
        }
        var weights = Ops.Softmax(logits);
        var score = Ops.SumLastDim(Ops.Mul(weights, clipScores));
        if (attLoss is not null && bsz > 0)
        {
            attLoss = Ops.Scale(attLoss, o.AttentionLossWeight / bsz);
        }
        return new ScorerOutput(score, weights, clipScores, logits, attLoss, selfMaps, crossMaps, batch.Lengths);
    }

    private (Tensor X, Tensor Pos) QueryTerms(ScorerBatch batch, Random rng)
    {
        var (bsz, t, d) = (batch.BatchSize, batch.Clips, Options.ModelDim);
        Tensor e;
        if (Options.QueryInit == QueryInitialisation.RedrawEachForward)
        {
            var noise = new float[bsz * t * d];
            Gaussian.Fill(noise, rng, 0f, Options.QueryInitStd);
            e = Tensor.FromData(noise, bsz * t, d);
        }
        else
        {
            var rows = new int[bsz * t];
            for (var b = 0; b < bsz; b++)
            {
                for (var q = 0; q < t; q++) { rows[b * t + q] = batch.FirstPositions[b] + q; }
            }
            e = Ops.Gather(_queryEmbed, rows);
        }
        var pe = new float[bsz * t * d];
        var table = _positionalTable.Value;
        for (var b = 0; b < bsz; b++)
        {
            table.AsSpan(batch.FirstPositions[b] * d, t * d).CopyTo(pe.AsSpan(b * t * d));
        }
        var x = Ops.Reshape(e, bsz, t, d);
        var pos = Ops.Add(x, Tensor.FromData(pe, bsz, t, d));
        return (x, pos);
    }

    /// <summary>Self-attention: q = k = LN1(x) + p, v = LN1(x); the reference keeps no residual from x: x1 = S + Dropout(S).</summary>
    private (Tensor X1, Tensor SelfOut) SelfAttentionBlock(LayerParameters l, Tensor x, Tensor pos, bool[]? valid, bool training, Random rng, List<float[]> selfMaps)
    {
        var o = Options;
        var d = o.ModelDim;
        var t1 = Ops.LayerNorm(x, l.Norm1Weight, l.Norm1Bias);
        var qkIn = Ops.Add(t1, pos);
        var sa = Ops.Attention(
            Ops.Linear(qkIn, l.SelfInWeight, l.SelfInBias, 0, d),
            Ops.Linear(qkIn, l.SelfInWeight, l.SelfInBias, d, d),
            Ops.Linear(t1, l.SelfInWeight, l.SelfInBias, 2 * d, d),
            o.Heads, valid, o.Causal, 0, o.AttentionDropout, rng, training);
        selfMaps.Add(sa.Probabilities);
        var s = Ops.Linear(sa.Output, l.SelfOutWeight, l.SelfOutBias);
        return (Ops.Add(s, Ops.Dropout(s, o.Dropout, rng, training)), s);
    }

    /// <summary>The cross-attention query projection of LN2(x1) + p.</summary>
    private Tensor CrossQuery(LayerParameters l, Tensor x1, Tensor pos) =>
        Ops.Linear(Ops.Add(Ops.LayerNorm(x1, l.Norm2Weight, l.Norm2Bias), pos), l.CrossInWeight, l.CrossInBias, 0, Options.ModelDim);

    /// <summary>Cross-attention to the clips (k = v = memory, no positional term), then the FFN:
    /// x2 = x1 + Dropout(C); x3 = x2 + Dropout(W2 · Dropout(ReLU(W1 · LN3(x2)))).</summary>
    private (Tensor X3, Tensor CrossOut) CrossAttentionAndFeedForward(LayerParameters l, Tensor x1, Tensor crossQuery, Tensor crossKey, Tensor crossValue,
        bool[]? valid, bool training, Random rng, List<float[]> crossMaps)
    {
        var o = Options;
        Tensor attended;
        if (o.LocalCross)
        {
            // Query q attends to clip q alone: softmax over one key is 1, so the output is clip q's value row.
            attended = crossValue;
            crossMaps.Add(IdentityMaps(crossValue.Shape[0], crossValue.Shape[1]));
        }
        else
        {
            var ca = Ops.Attention(crossQuery, crossKey, crossValue, o.Heads, valid, o.Causal, 0, o.AttentionDropout, rng, training);
            crossMaps.Add(ca.Probabilities);
            attended = ca.Output;
        }
        var c = Ops.Linear(attended, l.CrossOutWeight, l.CrossOutBias);
        var x2 = Ops.Add(x1, Ops.Dropout(c, o.Dropout, rng, training));
        return (FeedForwardBlock(l, x2, training, rng), c);
    }

    /// <summary>[b, H, t, t] attention maps of <see cref="DecoderOptions.LocalCross"/>: every query on its own clip.</summary>
    private float[] IdentityMaps(int batch, int clips)
    {
        var maps = new float[batch * Options.Heads * clips * clips];
        for (var m = 0; m < batch * Options.Heads; m++)
        {
            for (var q = 0; q < clips; q++) { maps[(m * clips + q) * clips + q] = 1f; }
        }
        return maps;
    }

    /// <summary>x3 = x2 + Dropout(W2 · Dropout(ReLU(W1 · LN3(x2)))).</summary>
    private Tensor FeedForwardBlock(LayerParameters l, Tensor x2, bool training, Random rng)
    {
        var p = Options.Dropout;
        var hidden = Ops.Dropout(Ops.Relu(Ops.Linear(Ops.LayerNorm(x2, l.Norm3Weight, l.Norm3Bias), l.Linear1Weight, l.Linear1Bias)), p, rng, training);
        return Ops.Add(x2, Ops.Dropout(Ops.Linear(hidden, l.Linear2Weight, l.Linear2Bias), p, rng, training));
    }

    /// <summary>Cross-attention keys of the clip memory: rows d..2d of the in-projection (per clip, so they can be cached).</summary>
    private Tensor CrossKey(LayerParameters l, Tensor memory) => Ops.Linear(memory, l.CrossInWeight, l.CrossInBias, Options.ModelDim, Options.ModelDim);

    /// <summary>Cross-attention values of the clip memory: rows 2d..3d of the in-projection.</summary>
    private Tensor CrossValue(LayerParameters l, Tensor memory) => Ops.Linear(memory, l.CrossInWeight, l.CrossInBias, 2 * Options.ModelDim, Options.ModelDim);

    /// <summary>
    /// At inference with learned queries, the first layer's query side (x1 and the cross-attention query) depends only
    /// on the query positions and the performance's length, never on the clips: it is computed once per
    /// (first position, length) and reused. Rows past a sample's length are zero: padded queries influence nothing.
    /// </summary>
    private (Tensor X1, Tensor CrossQuery, float[] SelfMap) CachedQuerySide(ScorerBatch batch)
    {
        var (bsz, t, d, heads) = (batch.BatchSize, batch.Clips, Options.ModelDim, Options.Heads);
        var x1 = new float[bsz * t * d];
        var cq = new float[bsz * t * d];
        var map = new float[bsz * heads * t * t];
        for (var b = 0; b < bsz; b++)
        {
            var (first, length) = (batch.FirstPositions[b], batch.Lengths[b]);
            var side = QuerySideFor(first, length);
            side.X1.CopyTo(x1, b * t * d);
            side.CrossQuery.CopyTo(cq, b * t * d);
            for (var h = 0; h < heads; h++)
            {
                for (var i = 0; i < length; i++)
                {
                    side.SelfMap.AsSpan((h * length + i) * length, length).CopyTo(map.AsSpan(((b * heads + h) * t + i) * t));
                }
            }
        }
        return (Tensor.FromData(x1, bsz, t, d), Tensor.FromData(cq, bsz, t, d), map);
    }

    private QuerySide QuerySideFor(int first, int length)
    {
        lock (_querySideCache)
        {
            if (_querySideVersion != Parameters.Version)
            {
                _querySideCache.Clear();
                _querySideVersion = Parameters.Version;
            }
            if (_querySideCache.TryGetValue((first, length), out var hit)) { return hit; }
        }
        var one = new ScorerBatch(new float[length * Options.FeatureDim], 1, length, Options.FeatureDim, [length], [first]);
        var rng = new Random(0);
        var (x, pos) = QueryTerms(one, rng);
        var maps = new List<float[]>(1);
        var (x1, _) = SelfAttentionBlock(_layers[0], x, pos, null, false, rng, maps);
        var side = new QuerySide((float[])x1.Data.Clone(), (float[])CrossQuery(_layers[0], x1, pos).Data.Clone(), (float[])maps[0].Clone());
        lock (_querySideCache)
        {
            if (_querySideCache.Count >= MaxCachedQuerySides) { _querySideCache.Clear(); }
            _querySideCache[(first, length)] = side;
        }
        return side;
    }

    private sealed record QuerySide(float[] X1, float[] CrossQuery, float[] SelfMap);

    private static Tensor Mlp(Tensor h, Tensor[] p)
    {
        var a = Ops.Relu(Ops.Linear(h, p[0], p[1]));
        var b = Ops.Relu(Ops.Linear(a, p[2], p[3]));
        return Ops.Linear(b, p[4], p[5]);
    }

    private static bool[] ValidMask(ScorerBatch batch)
    {
        var mask = new bool[batch.BatchSize * batch.Clips];
        for (var b = 0; b < batch.BatchSize; b++)
        {
            for (var j = 0; j < batch.Lengths[b]; j++) { mask[b * batch.Clips + j] = true; }
        }
        return mask;
    }

    /// <summary>Sets the last bias of the score MLP so an untrained model predicts <paramref name="normalisedScore"/>
    /// (speeds up the start of training; the reference starts from PyTorch's default).</summary>
    public void InitialiseScoreBias(float normalisedScore)
    {
        _scoreHead[5].Data[0] = normalisedScore;
        Parameters.MarkChanged();
    }

    private static (Tensor W, Tensor B) AddLinear(ParameterSet p, string name, int inF, int outF, Random rng)
    {
        // PyTorch nn.Linear default: U(−1/√in, 1/√in) for weight and bias.
        var bound = 1f / MathF.Sqrt(inF);
        var w = new float[outF * inF];
        var b = new float[outF];
        Gaussian.FillUniform(w, rng, bound);
        Gaussian.FillUniform(b, rng, bound);
        return (p.Add($"{name}.weight", w, outF, inF), p.Add($"{name}.bias", b, outF));
    }

    private static (Tensor W, Tensor B) AddLayerNorm(ParameterSet p, string name, int d)
    {
        var w = new float[d];
        Array.Fill(w, 1f);
        return (p.Add($"{name}.weight", w, d), p.Add($"{name}.bias", new float[d], d));
    }

    private static Tensor[] AddMlp(ParameterSet p, string prefix, string kind, int d, DecoderOptions o, Random rng)
    {
        var (w1, b1) = AddLinear(p, $"{prefix}.layer1_{kind}", d, o.HeadHidden1, rng);
        var (w2, b2) = AddLinear(p, $"{prefix}.layer2_{kind}", o.HeadHidden1, o.HeadHidden2, rng);
        var (w3, b3) = AddLinear(p, $"{prefix}.layer3_{kind}", o.HeadHidden2, 1, rng);
        return [w1, b1, w2, b2, w3, b3];
    }

    private sealed record LayerParameters(
        Tensor SelfInWeight, Tensor SelfInBias, Tensor SelfOutWeight, Tensor SelfOutBias,
        Tensor CrossInWeight, Tensor CrossInBias, Tensor CrossOutWeight, Tensor CrossOutBias,
        Tensor Linear1Weight, Tensor Linear1Bias, Tensor Linear2Weight, Tensor Linear2Bias,
        Tensor Norm1Weight, Tensor Norm1Bias, Tensor Norm2Weight, Tensor Norm2Bias, Tensor Norm3Weight, Tensor Norm3Bias)
    {
        public static LayerParameters Create(ParameterSet p, string name, int d, int ffn, Random rng)
        {
            var (siw, sib, sow, sob) = AddMultiheadAttention(p, $"{name}.self_attn", d, rng);
            var (ciw, cib, cow, cob) = AddMultiheadAttention(p, $"{name}.multihead_attn", d, rng);
            var (l1w, l1b) = AddLinear(p, $"{name}.linear1", d, ffn, rng);
            var (l2w, l2b) = AddLinear(p, $"{name}.linear2", ffn, d, rng);
            var (n1w, n1b) = AddLayerNorm(p, $"{name}.norm1", d);
            var (n2w, n2b) = AddLayerNorm(p, $"{name}.norm2", d);
            var (n3w, n3b) = AddLayerNorm(p, $"{name}.norm3", d);
            return new(siw, sib, sow, sob, ciw, cib, cow, cob, l1w, l1b, l2w, l2b, n1w, n1b, n2w, n2b, n3w, n3b);
        }

        private static (Tensor, Tensor, Tensor, Tensor) AddMultiheadAttention(ParameterSet p, string name, int d, Random rng)
        {
            // nn.MultiheadAttention: xavier_uniform in_proj_weight, zero in_proj_bias and out_proj.bias.
            var inW = new float[3 * d * d];
            Gaussian.FillUniform(inW, rng, MathF.Sqrt(6f / (d + 3 * d)));
            var inWeight = p.Add($"{name}.in_proj_weight", inW, 3 * d, d);
            var inBias = p.Add($"{name}.in_proj_bias", new float[3 * d], 3 * d);
            var outW = new float[d * d];
            Gaussian.FillUniform(outW, rng, 1f / MathF.Sqrt(d));
            var outWeight = p.Add($"{name}.out_proj.weight", outW, d, d);
            var outBias = p.Add($"{name}.out_proj.bias", new float[d], d);
            return (inWeight, inBias, outWeight, outBias);
        }
    }
}
