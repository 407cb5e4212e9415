using AqaStream.Numerics;

namespace AqaStream.Scoring.Model;

public sealed partial class WeightScoreDecoder
{
    /// <summary>Starts the decoder state of one live performance. Streaming needs a causal model.</summary>
    public IncrementalDecoder StartPerformance(IncrementalMode mode)
    {
        if (mode == IncrementalMode.Streaming && !Options.Causal)
        {
            throw new InvalidOperationException("Streaming mode needs a causal model (trained with --causal); use Exact for a bidirectional one.");
        }
        return mode == IncrementalMode.Streaming ? new StreamingState(this) : new ExactState(this);
    }

    /// <summary>Rows of width d appended one at a time, stored contiguously (capacity doubles).</summary>
    private sealed class RowBuffer(int width)
    {
        private float[] _data = new float[width * 8];

        public int Count { get; private set; }

        public ReadOnlySpan<float> Rows => _data.AsSpan(0, Count * width);

        public void Append(ReadOnlySpan<float> row)
        {
            if ((Count + 1) * width > _data.Length) { Array.Resize(ref _data, _data.Length * 2); }
            row.CopyTo(_data.AsSpan(Count * width));
            Count++;
        }

        public Tensor AsTensor() => Tensor.FromData(_data.AsSpan(0, Count * width).ToArray(), 1, Count, width);
    }

    /// <summary>The clip memory row (after the optional input projection) of one clip.</summary>
    private Tensor MemoryRow(ReadOnlySpan<float> features)
    {
        if (features.Length != Options.FeatureDim)
        {
            throw new ArgumentException($"A clip feature vector has {features.Length} values; the model expects {Options.FeatureDim}.");
        }
        foreach (var v in features)
        {
            if (!float.IsFinite(v)) { throw new ArgumentException("A clip feature vector contains NaN or infinite values."); }
        }
        var row = Tensor.FromData(features.ToArray(), 1, Options.FeatureDim);
        return _inputProjWeight is null ? row : Ops.Linear(row, _inputProjWeight, _inputProjBias);
    }

    private void RequireRoom(int clips)
    {
        if (clips >= Options.MaxQueries)
        {
            throw new InvalidOperationException($"The performance already has {clips} clips, the model's maximum ({Options.MaxQueries} query positions).");
        }
    }

    /// <summary>Bidirectional: cached cross-attention keys/values per layer; the query side is recomputed per clip.</summary>
    private sealed class ExactState(WeightScoreDecoder model) : IncrementalDecoder
    {
        private readonly RowBuffer[] _keys = model._layers.Select(_ => new RowBuffer(model.Options.ModelDim)).ToArray();
        private readonly RowBuffer[] _values = model._layers.Select(_ => new RowBuffer(model.Options.ModelDim)).ToArray();
        private float[] _logits = [];
        private float[] _scores = [];
        private float[] _latestAttention = [];

        public override int Clips => _keys[0].Count;

        public override float Score { get; protected set; }

        public override ReadOnlySpan<float> Logits => _logits;

        public override ReadOnlySpan<float> ClipScores => _scores;

        public override IncrementalMode Mode => IncrementalMode.Exact;

        public override ReadOnlySpan<float> LatestCrossAttention => _latestAttention;

        public override void Append(ReadOnlySpan<float> clipFeatures)
        {
            model.RequireRoom(Clips);
            using var _ = Autograd.NoGrad();
            using var memory = TensorMemory.Scope();
            var row = model.MemoryRow(clipFeatures);
            for (var i = 0; i < model._layers.Length; i++)
            {
                _keys[i].Append(model.CrossKey(model._layers[i], row).Data);
                _values[i].Append(model.CrossValue(model._layers[i], row).Data);
            }
            var n = Clips;
            var batch = new ScorerBatch([], 1, n, model.Options.FeatureDim, [n], [0]);
            var kv = _keys.Zip(_values, (k, v) => (k.AsTensor(), v.AsTensor())).ToArray();
            var output = model.Decode(batch, kv, training: false, new Random(0), withAttentionLoss: false);
            _scores = (float[])output.ClipScores.Data.Clone();
            _logits = (float[])output.Logits.Data.Clone();
            Score = output.Score.Data[0];
            // CrossAttention[last] is [1, H, n, n]: average the newest query's row over heads.
            var map = output.CrossAttention[^1];
            var heads = model.Options.Heads;
            _latestAttention = new float[n];
            for (var h = 0; h < heads; h++)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(_latestAttention, map.AsSpan((h * n + n - 1) * n, n), _latestAttention);
            }
            System.Numerics.Tensors.TensorPrimitives.Multiply(_latestAttention, 1f / heads, _latestAttention);
        }
    }

    /// <summary>Causal: per-layer self- and cross-attention key/value caches; one query's work per clip; running sums.</summary>
    private sealed class StreamingState(WeightScoreDecoder model) : IncrementalDecoder
    {
        private readonly RowBuffer[] _selfKeys = model._layers.Select(_ => new RowBuffer(model.Options.ModelDim)).ToArray();
        private readonly RowBuffer[] _selfValues = model._layers.Select(_ => new RowBuffer(model.Options.ModelDim)).ToArray();
        private readonly RowBuffer[] _crossKeys = model._layers.Select(_ => new RowBuffer(model.Options.ModelDim)).ToArray();
        private readonly RowBuffer[] _crossValues = model._layers.Select(_ => new RowBuffer(model.Options.ModelDim)).ToArray();
        private readonly List<float> _logits = [];
        private readonly List<float> _scores = [];
        private readonly Random _noDropout = new(0);
        private float[] _probabilities = new float[model.Options.Heads * 8];
        private float[] _latestAttention = [];

        private StreamingProvisional _provisional;

        public override int Clips => _scores.Count;

        public override float Score { get; protected set; }

        public override ReadOnlySpan<float> Logits => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_logits);

        public override ReadOnlySpan<float> ClipScores => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_scores);

        public override IncrementalMode Mode => IncrementalMode.Streaming;

        public override ReadOnlySpan<float> LatestCrossAttention => _latestAttention;

        public override void Append(ReadOnlySpan<float> clipFeatures)
        {
            var m = model;
            var o = m.Options;
            var d = o.ModelDim;
            var t = Clips;
            m.RequireRoom(t);
            using var _ = Autograd.NoGrad();
            using var memory = TensorMemory.Scope();
            var row = m.MemoryRow(clipFeatures);
            var e = Ops.Gather(m._queryEmbed, [t]);
            var pos = Ops.Add(e, Tensor.FromData(m._positionalTable.Value.AsSpan(t * d, d).ToArray(), 1, d));
            if (_probabilities.Length < o.Heads * (t + 1)) { _probabilities = new float[o.Heads * (t + 1) * 2]; }
            var x = e;
            for (var i = 0; i < m._layers.Length; i++)
            {
                var l = m._layers[i];
                var t1 = Ops.LayerNorm(x, l.Norm1Weight, l.Norm1Bias);
                var qk = Ops.Add(t1, pos);
                _selfKeys[i].Append(Ops.Linear(qk, l.SelfInWeight, l.SelfInBias, d, d).Data);
                _selfValues[i].Append(Ops.Linear(t1, l.SelfInWeight, l.SelfInBias, 2 * d, d).Data);
                var s = Ops.Linear(Attend(Ops.Linear(qk, l.SelfInWeight, l.SelfInBias, 0, d), _selfKeys[i], _selfValues[i]), l.SelfOutWeight, l.SelfOutBias);
                var x1 = Ops.Add(s, s);
                var qc = m.CrossQuery(l, x1, pos);
                _crossKeys[i].Append(m.CrossKey(l, row).Data);
                _crossValues[i].Append(m.CrossValue(l, row).Data);
                Tensor c;
                if (o.LocalCross)
                {
                    c = Ops.Linear(Tensor.FromData(_crossValues[i].Rows[(t * d)..].ToArray(), 1, d), l.CrossOutWeight, l.CrossOutBias);
                    Array.Clear(_probabilities);
                    for (var head = 0; head < o.Heads; head++) { _probabilities[head * (t + 1) + t] = 1f; }
                }
                else
                {
                    c = Ops.Linear(Attend(qc, _crossKeys[i], _crossValues[i]), l.CrossOutWeight, l.CrossOutBias);
                }
                if (i == m._layers.Length - 1) { KeepLatestAttention(t + 1); }
                x = m.FeedForwardBlock(l, Ops.Add(x1, c), training: false, _noDropout);
            }
            var h = Ops.LayerNorm(x, m._finalNormWeight, m._finalNormBias);
            var score = Mlp(h, m._scoreHead).Data[0];
            var logit = Mlp(h, m._weightHead).Data[0];
            _scores.Add(score);
            _logits.Add(logit);
            Score = _provisional.Add(logit, score);
        }

        private void KeepLatestAttention(int count)
        {
            _latestAttention = new float[count];
            for (var h = 0; h < model.Options.Heads; h++)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(_latestAttention, _probabilities.AsSpan(h * count, count), _latestAttention);
            }
            System.Numerics.Tensors.TensorPrimitives.Multiply(_latestAttention, 1f / model.Options.Heads, _latestAttention);
        }

        private Tensor Attend(Tensor query, RowBuffer keys, RowBuffer values)
        {
            var output = new float[query.Length];
            Kernels.AttendOne(query.Data, keys.Rows, values.Rows, keys.Count, model.Options.Heads, output, _probabilities);
            return Tensor.FromData(output, 1, output.Length);
        }
    }
}
