using AqaStream.Scoring.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// Live decoder state on libtorch for many performances at once (the way an inference server batches stateful
/// sequences): <see cref="Step"/> advances every performance that has a new clip in one batched pass, ragged lengths
/// under masks. Exact mode (bidirectional) keeps each performance's cross-attention keys and values and recomputes the
/// query side; streaming mode (causal) keeps self- and cross-attention key/value caches and computes one query per clip.
/// Results equal the one-at-a-time ones and the offline forward of the clips so far. Steps of disjoint performances may
/// run at once on different threads (the model is only read; dispose scopes and inference mode are per thread); one
/// performance has one caller at a time.
/// </summary>
public sealed class TorchLiveDecoder(TorchWeightScoreDecoder model)
{
    private readonly TorchWeightScoreDecoder _model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>The model.</summary>
    public TorchWeightScoreDecoder Model => _model;

    /// <summary>Most streaming performances advanced in one pass of a step (a larger step runs as several passes).
    /// 16 measured best on 2 cores (<c>./bench incremental --batches 64,256</c>).</summary>
    public int StreamingPassSize { get; init; } = 16;

    /// <summary>Starts one performance's state. Streaming needs a causal model.</summary>
    public TorchLivePerformance Start(IncrementalMode mode)
    {
        if (mode == IncrementalMode.Streaming && !_model.Options.Causal)
        {
            throw new InvalidOperationException("Streaming mode needs a causal model (trained with --causal); use Exact for a bidirectional one.");
        }
        return new TorchLivePerformance(this, mode);
    }

    /// <summary>
    /// Appends one clip to each listed performance in one batched step (a performance at most once per step). Every
    /// vector is checked first: a wrong width or a NaN throws and changes no state.
    /// </summary>
    public void Step(IReadOnlyList<(TorchLivePerformance Performance, float[] Features)> clips)
    {
        ArgumentNullException.ThrowIfNull(clips);
        if (clips.Count == 0) { return; }
        var o = _model.Options;
        var seen = new HashSet<TorchLivePerformance>(ReferenceEqualityComparer.Instance);
        foreach (var (p, f) in clips)
        {
            if (!ReferenceEquals(p.Owner, this)) { throw new ArgumentException("A performance started by another decoder."); }
            ObjectDisposedException.ThrowIf(p.IsDisposed, p);
            if (!seen.Add(p)) { throw new ArgumentException("A performance appears twice in one step; give it one clip per step."); }
            if (f.Length != o.FeatureDim) { throw new ArgumentException($"A clip feature vector has {f.Length} values; the model expects {o.FeatureDim}."); }
            foreach (var v in f)
            {
                if (!float.IsFinite(v)) { throw new ArgumentException("A clip feature vector contains NaN or infinite values."); }
            }
            if (p.Clips >= o.MaxQueries)
            {
                throw new InvalidOperationException($"The performance already has {p.Clips} clips, the model's maximum ({o.MaxQueries} query positions).");
            }
        }
        using var inference = inference_mode();
        // Streaming passes of at most StreamingPassSize performances: the padded key/value temporaries of one pass stay
        // a few MB (a pass of 256 at depth ~136 made 36 MB blocks that glibc maps and unmaps on every step).
        var streaming = clips.Where(c => c.Performance.Mode == IncrementalMode.Streaming).ToList();
        foreach (var pass in streaming.Chunk(StreamingPassSize)) { StepStreaming(pass); }
        // Exact mode recomputes the whole query side: compute-bound, so a batch only adds padding. One at a time
        // (also required without padding masks, where padding would change results).
        foreach (var c in clips.Where(c => c.Performance.Mode == IncrementalMode.Exact)) { StepExact([c]); }
    }

    private Tensor Features(IReadOnlyList<(TorchLivePerformance Performance, float[] Features)> clips)
    {
        var fdim = _model.Options.FeatureDim;
        var data = new float[clips.Count * fdim];
        for (var b = 0; b < clips.Count; b++) { clips[b].Features.CopyTo(data, b * fdim); }
        return tensor(data, [clips.Count, fdim]).to(_model.Device);
    }

    /// <summary>Rows 0..width-1 of each performance's cache <paramref name="cache"/> as [B, width, d]: rows past a
    /// performance's count are zeros (its buffer is grown to width if needed) and masked by the caller. One stack of
    /// views: nn.utils.rnn.pad_sequence measured 6x slower here.</summary>
    private static Tensor Padded(IReadOnlyList<TorchLivePerformance> performances, Func<TorchLivePerformance, RowCache> cache, long width)
    {
        if (performances.Count == 1) { return cache(performances[0]).Rows.unsqueeze(0); }
        return stack(performances.Select(p => cache(p).Window(width)).ToArray());
    }

    /// <summary>One query per performance ([B, d]) attending to its own keys and values ([B, L, d], <paramref name="keyMask"/>
    /// [B, L] true where left out), per head, then the out-projection. Written as broadcasts and sums: batched
    /// 1-row matmuls over strided views measured 5x slower. Returns the output [B, d] and the head-averaged map [B, L].</summary>
    private (Tensor Output, Tensor Map) AttendOne(string name, Tensor q, Tensor k, Tensor v, Tensor keyMask)
    {
        var o = _model.Options;
        var (bsz, width, heads) = (q.shape[0], k.shape[1], (long)o.Heads);
        var dh = o.ModelDim / heads;
        var qh = q.view(bsz, 1, heads, dh);
        var scores = (k.view(bsz, width, heads, dh) * qh).sum(-1).div(TorchScalars.Of(Math.Sqrt(dh))); // [B, L, H]
        scores = scores.masked_fill(keyMask.unsqueeze(-1), TorchScalars.NegativeInfinity);
        var p = F.softmax(scores, 1);
        var attended = (p.unsqueeze(-1) * v.view(bsz, width, heads, dh)).sum(1).reshape(bsz, o.ModelDim);
        return (_model.Linear(attended, $"{name}.out_proj"), p.mean([2]));
    }

    private static Tensor KeyMask(long[] lengths, long width, Device device) =>
        arange(width, device: device).unsqueeze(0) >= tensor(lengths, device: device).unsqueeze(1);

    private void StepExact(IReadOnlyList<(TorchLivePerformance Performance, float[] Features)> clips)
    {
        var m = _model;
        var o = m.Options;
        using var scope = NewDisposeScope();
        var memory = m.Memory(Features(clips));
        var performances = clips.Select(c => c.Performance).ToList();
        for (var i = 0; i < o.Layers; i++)
        {
            var (k, v) = m.CrossKeyValue(i, memory);
            for (var b = 0; b < performances.Count; b++)
            {
                performances[b].CrossKeys[i].Append(k[b]);
                performances[b].CrossValues[i].Append(v[b]);
            }
        }
        var lengths = performances.Select(p => (long)p.CrossKeys[0].Count).ToArray();
        var widest = lengths.Max();
        var kv = Enumerable.Range(0, o.Layers).Select(i => (Padded(performances, p => p.CrossKeys[i], widest), Padded(performances, p => p.CrossValues[i], widest))).ToArray();
        var output = m.Decode(kv, lengths, new long[performances.Count], training: false, withAttentionLoss: false, withMaps: true);
        var t = lengths.Max();
        var logits = output.Logits.cpu().data<float>().ToArray();
        var scores = output.ClipScores.cpu().data<float>().ToArray();
        var totals = output.Score.cpu().data<float>().ToArray();
        // The newest query's attention in the last layer, averaged over heads: [B, T].
        var latest = output.CrossAttention[^1].mean([1]).cpu().data<float>().ToArray(); // [B, T, T]
        for (var b = 0; b < performances.Count; b++)
        {
            var n = (int)lengths[b];
            var p = performances[b];
            p.SetExact(logits.AsSpan((int)(b * t), n).ToArray(), scores.AsSpan((int)(b * t), n).ToArray(), totals[b],
                latest.AsSpan((int)((b * t + n - 1) * t), n).ToArray());
        }
    }

    /// <summary>Causal self-attention of layer <paramref name="layer"/> for one new query per performance, through its
    /// key/value caches (appended here); returns the layer's residual x1 [B, d].</summary>
    private Tensor SelfAttend(List<TorchLivePerformance> performances, int layer, Tensor x, Tensor pos, long width, Tensor mask)
    {
        var m = _model;
        var prefix = $"decoder.layers.{layer}";
        var t1 = m.LayerNorm(x, $"{prefix}.norm1");
        var qk = t1.Plus(pos);
        var (wq, bq) = m.InProjection($"{prefix}.self_attn", 0);
        var (wk, bk) = m.InProjection($"{prefix}.self_attn", 1);
        var (wv, bv) = m.InProjection($"{prefix}.self_attn", 2);
        var selfKey = F.linear(qk, wk, bk);
        var selfValue = F.linear(t1, wv, bv);
        for (var b = 0; b < performances.Count; b++)
        {
            performances[b].SelfKeys[layer].Append(selfKey[b]);
            performances[b].SelfValues[layer].Append(selfValue[b]);
        }
        var (s, _) = AttendOne($"{prefix}.self_attn", F.linear(qk, wq, bq),
            Padded(performances, p => p.SelfKeys[layer], width), Padded(performances, p => p.SelfValues[layer], width), mask);
        return s.Plus(s);
    }

    private readonly object _layer0Gate = new();
    private Layer0Table? _layer0;

    /// <summary>In streaming (causal) mode layer 0's self-attention sees the learned queries only, never a clip, so
    /// its output at each position, and the cross-attention query made from it, are the same for every performance:
    /// computed once per decoder, position by position through the very step the other layers take (so the values are
    /// the ones a cache would give), on the first streaming step. The model's weights are read then.</summary>
    private Layer0Table Layer0()
    {
        lock (_layer0Gate)
        {
            if (_layer0 is { } ready) { return ready; }
            var m = _model;
            var o = m.Options;
            var device = m.Device;
            using var scope = NewDisposeScope();
            var state = new TorchLivePerformance(this, IncrementalMode.Streaming);
            try
            {
                var afterSelf = new List<Tensor>(o.MaxQueries);
                var crossQuery = new List<Tensor>(o.MaxQueries);
                var (cwq, cbq) = m.InProjection("decoder.layers.0.multihead_attn", 0);
                for (var t = 0; t < o.MaxQueries; t++)
                {
                    var idx = tensor(new long[] { t }, device: device);
                    var e = m["query_embed.weight"].index_select(0, idx);
                    var pos = e.Plus(m.Positional.index_select(0, idx));
                    var x1 = SelfAttend([state], 0, e, pos, t + 1, KeyMask([t + 1], t + 1, device));
                    afterSelf.Add(x1);
                    if (!o.LocalCross) { crossQuery.Add(F.linear(m.LayerNorm(x1, "decoder.layers.0.norm2").Plus(pos), cwq, cbq)); }
                }
                _layer0 = new Layer0Table(cat(afterSelf, 0).DetachFromDisposeScope(), o.LocalCross ? null : cat(crossQuery, 0).DetachFromDisposeScope());
                return _layer0;
            }
            finally
            {
                state.Dispose();
            }
        }
    }

    /// <summary>Layer 0's residual after self-attention and its cross-attention query, per position [MaxQueries, d].</summary>
    private sealed record Layer0Table(Tensor AfterSelf, Tensor? CrossQuery);

    private void StepStreaming(IReadOnlyList<(TorchLivePerformance Performance, float[] Features)> clips)
    {
        var m = _model;
        var o = m.Options;
        var device = m.Device;
        using var scope = NewDisposeScope();
        var performances = clips.Select(c => c.Performance).ToList();
        var bsz = performances.Count;
        var positions = performances.Select(p => (long)p.Clips).ToArray();
        var lengths = positions.Select(t => t + 1).ToArray();
        var width = lengths.Max();
        var mask = KeyMask(lengths, width, device);
        var row = m.Memory(Features(clips));
        var idx = tensor(positions, device: device);
        var e = m["query_embed.weight"].index_select(0, idx);
        var pos = e.Plus(m.Positional.index_select(0, idx));
        var x = e;
        Tensor? lastMap = null;
        var layer0 = Layer0();
        for (var i = 0; i < o.Layers; i++)
        {
            var prefix = $"decoder.layers.{i}";
            // Layer 0's query side reads the learned queries only: looked up per position, no self-attention cache.
            var x1 = i == 0 ? layer0.AfterSelf.index_select(0, idx) : SelfAttend(performances, i, x, pos, width, mask);
            var (ck, cv) = m.CrossKeyValue(i, row);
            for (var b = 0; b < bsz; b++)
            {
                performances[b].CrossKeys[i].Append(ck[b]);
                performances[b].CrossValues[i].Append(cv[b]);
            }
            Tensor c;
            if (o.LocalCross)
            {
                c = m.Linear(cv, $"{prefix}.multihead_attn.out_proj");
                lastMap = null;
            }
            else
            {
                var (cwq, cbq) = m.InProjection($"{prefix}.multihead_attn", 0);
                var q = i == 0 ? layer0.CrossQuery!.index_select(0, idx) : F.linear(m.LayerNorm(x1, $"{prefix}.norm2").Plus(pos), cwq, cbq);
                (c, lastMap) = AttendOne($"{prefix}.multihead_attn", q,
                    Padded(performances, p => p.CrossKeys[i], width), Padded(performances, p => p.CrossValues[i], width), mask);
            }
            x = m.FeedForward(x1.Plus(c), prefix, training: false);
        }
        var h = m.LayerNorm(x, "decoder.norm");
        var scores = m.Mlp(h, "mean").cpu().data<float>().ToArray();
        var logits = m.Mlp(h, "weight").cpu().data<float>().ToArray();
        var maps = lastMap?.cpu().data<float>().ToArray(); // [B, width]
        for (var b = 0; b < bsz; b++)
        {
            var n = (int)lengths[b];
            float[] attention;
            if (maps is null)
            {
                attention = new float[n];
                attention[n - 1] = 1f;
            }
            else
            {
                attention = maps.AsSpan((int)(b * width), n).ToArray();
            }
            performances[b].AddStreaming(logits[b], scores[b], attention);
        }
    }
}

/// <summary>Rows of width d appended one at a time into a libtorch buffer that doubles when full (kept out of every
/// dispose scope; released by <see cref="Dispose"/>).</summary>
internal sealed class RowCache(long width, Device device) : IDisposable
{
    private Tensor? _buffer;

    public int Count { get; private set; }

    /// <summary>Rows 0..Count-1 (a view).</summary>
    public Tensor Rows => _buffer!.narrow(0, 0, Count);

    /// <summary>Rows 0..<paramref name="rows"/>-1 (a view; rows past <see cref="Count"/> are zeros).</summary>
    public Tensor Window(long rows)
    {
        Reserve(rows);
        return _buffer!.narrow(0, 0, rows);
    }

    public void Append(Tensor row)
    {
        Reserve(Count + 1);
        _buffer![Count].copy_(row);
        Count++;
    }

    private void Reserve(long rows)
    {
        if (_buffer is not null && rows <= _buffer.shape[0]) { return; }
        var capacity = Math.Max(8, (long)Math.Max(rows, 2L * (_buffer?.shape[0] ?? 0)));
        // Zeros: rows past Count may be read (masked keys, zero-weighted values), never garbage that could be NaN.
        var grown = zeros([capacity, width], device: device).DetachFromDisposeScope();
        if (_buffer is not null)
        {
            grown.narrow(0, 0, Count).copy_(_buffer.narrow(0, 0, Count));
            _buffer.Dispose();
        }
        _buffer = grown;
    }

    public long Bytes => _buffer is null ? 0 : _buffer.numel() * sizeof(float);

    public void Dispose()
    {
        _buffer?.Dispose();
        _buffer = null;
        Count = 0;
    }
}

/// <summary>One live performance's state on libtorch; <see cref="Append"/> is a batched step of one.
/// Dispose it when the performance ends: its caches are native memory.</summary>
public sealed class TorchLivePerformance : IncrementalDecoder, IDisposable
{
    private readonly List<float> _logits = [];
    private readonly List<float> _scores = [];
    private float[] _latestAttention = [];
    private StreamingProvisional _provisional;

    internal TorchLivePerformance(TorchLiveDecoder owner, IncrementalMode mode)
    {
        Owner = owner;
        Mode = mode;
        var (layers, d, device) = (owner.Model.Options.Layers, (long)owner.Model.Options.ModelDim, owner.Model.Device);
        CrossKeys = Enumerable.Range(0, layers).Select(_ => new RowCache(d, device)).ToArray();
        CrossValues = Enumerable.Range(0, layers).Select(_ => new RowCache(d, device)).ToArray();
        SelfKeys = mode == IncrementalMode.Streaming ? Enumerable.Range(0, layers).Select(_ => new RowCache(d, device)).ToArray() : [];
        SelfValues = mode == IncrementalMode.Streaming ? Enumerable.Range(0, layers).Select(_ => new RowCache(d, device)).ToArray() : [];
    }

    internal TorchLiveDecoder Owner { get; }

    internal RowCache[] CrossKeys { get; }

    internal RowCache[] CrossValues { get; }

    internal RowCache[] SelfKeys { get; }

    internal RowCache[] SelfValues { get; }

    internal bool IsDisposed { get; private set; }

    /// <inheritdoc/>
    public override int Clips => _scores.Count;

    /// <inheritdoc/>
    public override float Score { get; protected set; }

    /// <inheritdoc/>
    public override ReadOnlySpan<float> Logits => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_logits);

    /// <inheritdoc/>
    public override ReadOnlySpan<float> ClipScores => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_scores);

    /// <inheritdoc/>
    public override ReadOnlySpan<float> LatestCrossAttention => _latestAttention;

    /// <inheritdoc/>
    public override IncrementalMode Mode { get; }

    /// <summary>Native bytes its caches hold now.</summary>
    public long CacheBytes => CrossKeys.Concat(CrossValues).Concat(SelfKeys).Concat(SelfValues).Sum(c => c.Bytes);

    /// <inheritdoc/>
    public override void Append(ReadOnlySpan<float> clipFeatures) => Owner.Step([(this, clipFeatures.ToArray())]);

    internal void SetExact(float[] logits, float[] scores, float total, float[] latestAttention)
    {
        _logits.Clear();
        _logits.AddRange(logits);
        _scores.Clear();
        _scores.AddRange(scores);
        Score = total;
        _latestAttention = latestAttention;
    }

    internal void AddStreaming(float logit, float score, float[] latestAttention)
    {
        _scores.Add(score);
        _logits.Add(logit);
        Score = _provisional.Add(logit, score);
        _latestAttention = latestAttention;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (IsDisposed) { return; }
        IsDisposed = true;
        foreach (var c in CrossKeys.Concat(CrossValues).Concat(SelfKeys).Concat(SelfValues)) { c.Dispose(); }
    }
}
