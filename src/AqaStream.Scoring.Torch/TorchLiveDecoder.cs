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
public sealed class TorchLiveDecoder(TorchWeightScoreDecoder model) : IDisposable
{
    private readonly TorchWeightScoreDecoder _model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>The model.</summary>
    public TorchWeightScoreDecoder Model => _model;

    /// <summary>Most streaming performances advanced in one pass of a step (a larger step runs as several passes).
    /// Measured on 2 cores (<c>./bench incremental --batches 16,64,256 --pass-size N</c>): 64 with in-place attention
    /// (16 gave 7587 clips/s at batch 256, 64 gave 9935), 16 with the gather (its [B, rows] copies grow with the pass).</summary>
    public int StreamingPassSize { get => _passSize ?? (InPlaceAttention ? 64 : 16); init => _passSize = value; }

    private readonly int? _passSize;

    /// <summary>Streaming attention reads the paged pool in place (<see cref="PagedAttention"/>) instead of gathering each
    /// pass's rows into a contiguous copy first. CPU only, and the default there; the gather remains for other devices
    /// (and for tests, which compare the two).</summary>
    public bool InPlaceAttention { get; init; } = model.Device.type == DeviceType.CPU;

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
        // Streaming passes of at most StreamingPassSize performances: with the gather, the padded key/value temporaries of
        // one pass stay a few MB (a pass of 256 at depth ~136 made 36 MB blocks that glibc maps and unmaps on every step).
        var streaming = clips.Where(c => c.Performance.Mode == IncrementalMode.Streaming).ToList();
        foreach (var pass in streaming.Chunk(StreamingPassSize)) { StepStreaming(pass); }
        // Exact mode recomputes the whole query side: one at a time. Packed passes (rows of several performances
        // stacked for the position-wise layers, attention padded and masked) measured no faster at Fis-V depths:
        // 290-383 clips/s against 363-365 one at a time (the padded attention and its maps outweigh taller GEMMs).
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

    /// <summary>One query per performance ([B, d]) attending to its own cached keys and values, per head ([H, B, L, dh]
    /// each, contiguous, as <see cref="PagedKeyValueCache.Gather"/> lays them out; <paramref name="keyMask"/> [B, L] true
    /// where left out), then the out-projection. Batched matrix-vector products: no [B, L, d] temporaries. Returns the
    /// output [B, d] and the head-averaged map [B, L].</summary>
    private (Tensor Output, Tensor Map) AttendOne(string name, Tensor q, Tensor k, Tensor v, Tensor keyMask)
    {
        var o = _model.Options;
        var (heads, bsz) = (k.shape[0], k.shape[1]);
        var dh = k.shape[3];
        var qh = q.view(bsz, heads, dh).transpose(0, 1).unsqueeze(-1);                                   // [H, B, dh, 1]
        var scores = k.matmul(qh).squeeze(-1).div(TorchScalars.Of(Math.Sqrt(dh)));                       // [H, B, L]
        scores = scores.masked_fill(keyMask.unsqueeze(0), TorchScalars.NegativeInfinity);
        var p = F.softmax(scores, -1);
        var attended = p.unsqueeze(-2).matmul(v).squeeze(-2).transpose(0, 1).reshape(bsz, o.ModelDim);  // [B, d]
        return (_model.Linear(attended, $"{name}.out_proj"), p.mean([0]));
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
        var output = m.Decode(kv, lengths, new long[performances.Count], training: false, withAttentionLoss: false, withMaps: true,
            layer0: performances.Count == 1 ? ExactLayer0(lengths[0]) : null);
        var t = lengths.Max();
        var logits = output.Logits.cpu().data<float>().ToArray();
        var scores = output.ClipScores.cpu().data<float>().ToArray();
        var totals = output.Score.cpu().data<float>().ToArray();
        // The newest query's attention in the last layer, averaged over heads: [B, T] (row n - 1 of each map only).
        var newest = tensor(lengths.Select(n => n - 1).ToArray(), device: m.Device).view(-1, 1, 1, 1).expand(-1, o.Heads, 1, t);
        var latest = output.CrossAttention[^1].gather(2, newest).mean([1, 2]).cpu().data<float>().ToArray(); // [B, T]
        for (var b = 0; b < performances.Count; b++)
        {
            var n = (int)lengths[b];
            var p = performances[b];
            p.SetExact(logits.AsSpan((int)(b * t), n).ToArray(), scores.AsSpan((int)(b * t), n).ToArray(), totals[b],
                latest.AsSpan((int)(b * t), n).ToArray());
        }
    }

    /// <summary>Where each cached vector sits in a position's row of the paged cache: layer i's cross-attention key and
    /// value (none with local cross-attention: query q reads its own clip's value), then layer i ≥ 1's self-attention
    /// key and value (layer 0's self-attention sees the learned queries only: <see cref="Layer0"/>).</summary>
    private int CrossSlots => _model.Options.LocalCross ? 0 : 2 * _model.Options.Layers;

    /// <summary>Vectors the paged pool keeps per position (0: a one-layer local model caches nothing).</summary>
    private int CachedVectors => CrossSlots + (2 * (_model.Options.Layers - 1));

    private int CrossKeySlot(int layer) => 2 * layer;

    private int SelfKeySlot(int layer) => CrossSlots + (2 * (layer - 1));

    private readonly object _pagedGate = new();
    private PagedKeyValueCache? _paged;

    /// <summary>The streaming performances' key/value pool (made on first use; null when nothing is cached).</summary>
    internal PagedKeyValueCache? Paged
    {
        get
        {
            lock (_pagedGate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var o = _model.Options;
                return CachedVectors == 0 ? null : _paged ??= new PagedKeyValueCache(CachedVectors, o.Heads, o.ModelDim / o.Heads, _model.Device, readsWrittenRowsOnly: InPlaceAttention);
            }
        }
    }

    /// <summary>Native bytes of one block of the paged pool.</summary>
    internal long BlockBytes => (long)PagedKeyValueCache.BlockRows * CachedVectors * _model.Options.ModelDim * sizeof(float);

    /// <summary>Gives a finished streaming performance's blocks back (nothing to do once the decoder is disposed).</summary>
    internal void Release(List<long> blocks)
    {
        lock (_pagedGate)
        {
            if (_paged is null) { blocks.Clear(); }
            else { _paged.Release(blocks); }
        }
    }

    /// <summary>Native bytes of the streaming key/value pool (0 before the first streaming step).</summary>
    public long PagedBytes
    {
        get
        {
            lock (_pagedGate) { return _paged?.Bytes ?? 0; }
        }
    }

    private readonly object _layer0Gate = new();
    private Layer0Table? _layer0;

    /// <summary>In streaming (causal) mode layer 0's self-attention sees the learned queries only, never a clip, so
    /// its output at each position, and the cross-attention query made from it, are the same for every performance:
    /// computed once per decoder for all positions with the offline forward's layer-0 code (causal mask), on the first
    /// streaming step. The model's weights are read then.</summary>
    private Layer0Table Layer0()
    {
        lock (_layer0Gate)
        {
            if (_layer0 is { } ready) { return ready; }
            var m = _model;
            var o = m.Options;
            using var scope = NewDisposeScope();
            var idx = arange(o.MaxQueries, device: m.Device);
            var e = m["query_embed.weight"].index_select(0, idx).unsqueeze(0);
            var pos = e.Plus(m.Positional.index_select(0, idx).unsqueeze(0));
            var t1 = m.LayerNorm(e, "decoder.layers.0.norm1");
            var qk = t1.Plus(pos);
            var causal = ones(o.MaxQueries, o.MaxQueries, dtype: ScalarType.Bool, device: m.Device).triu(1);
            var (s, _) = m.Attention("decoder.layers.0.self_attn", qk, qk, t1, null, causal, training: false, withMap: false);
            var x1 = s.Plus(s);
            Tensor? crossQuery = null;
            if (!o.LocalCross)
            {
                var (cwq, cbq) = m.InProjection("decoder.layers.0.multihead_attn", 0);
                crossQuery = F.linear(m.LayerNorm(x1, "decoder.layers.0.norm2").Plus(pos), cwq, cbq).squeeze(0).DetachFromDisposeScope();
            }
            _layer0 = new Layer0Table(x1.squeeze(0).DetachFromDisposeScope(), crossQuery);
            return _layer0;
        }
    }

    private readonly Dictionary<long, (Tensor AfterSelf, Tensor? CrossQuery, Tensor Positions)> _exactLayer0 = [];
    private long _exactLayer0Bytes;

    /// <summary>Most native bytes the exact-mode layer-0 table may hold (default 64 MB): one entry per performance
    /// length n (n·d floats for the residual, as many for the query positions and, with full cross-attention, for the
    /// cross query), about 28 MB for every n ≤ 136 at d = 256. Lengths past
    /// the budget are computed by the forward, as without a table.</summary>
    public long ExactLayer0Bytes { get; init; } = DefaultExactLayer0Bytes;

    /// <summary>The default <see cref="ExactLayer0Bytes"/>: 64 MB.</summary>
    public const long DefaultExactLayer0Bytes = 64L << 20;

    /// <summary>Native bytes the exact-mode layer-0 table holds now.</summary>
    public long ExactLayer0BytesInUse
    {
        get
        {
            lock (_layer0Gate) { return _exactLayer0Bytes; }
        }
    }

    /// <summary>Exact mode: a bidirectional layer 0's self-attention over the first n learned queries (and the
    /// cross-attention query made from it) depends on the length n alone, never on a clip, so it is computed once per
    /// length (<see cref="TorchWeightScoreDecoder.Layer0QuerySide"/>) and reused by every performance: about a fifth of
    /// an exact step's multiply-adds at d = 256 with two layers. Null where queries are redrawn or the budget is spent.</summary>
    private (Tensor AfterSelf, Tensor? CrossQuery, Tensor Positions)? ExactLayer0(long n)
    {
        var o = _model.Options;
        if (o.QueryInit == QueryInitialisation.RedrawEachForward) { return null; }
        lock (_layer0Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_exactLayer0.TryGetValue(n, out var kept)) { return kept; }
            var bytes = n * o.ModelDim * sizeof(float) * (o.LocalCross ? 2L : 3L);
            if (_exactLayer0Bytes + bytes > ExactLayer0Bytes) { return null; }
            using var scope = NewDisposeScope();
            var (x1, q, pos) = _model.Layer0QuerySide(n);
            kept = (x1.DetachFromDisposeScope(), q?.DetachFromDisposeScope(), pos.DetachFromDisposeScope());
            _exactLayer0[n] = kept;
            _exactLayer0Bytes += bytes;
            return kept;
        }
    }

    /// <summary>Layer 0's residual after self-attention and its cross-attention query, per position [MaxQueries, d].</summary>
    private sealed record Layer0Table(Tensor AfterSelf, Tensor? CrossQuery);

    private void StepStreaming(IReadOnlyList<(TorchLivePerformance Performance, float[] Features)> clips)
    {
        var m = _model;
        var o = m.Options;
        var device = m.Device;
        var paged = Paged;
        var performances = clips.Select(c => c.Performance).ToList();
        var bsz = performances.Count;
        var positions = performances.Select(p => (long)p.Clips).ToArray();
        var lengths = positions.Select(t => t + 1).ToArray();
        // Blocks first: growing the pool waits for other steps, so it never happens inside one.
        paged?.Reserve(performances.Select(p => p.Blocks).ToList(), positions);
        using var scope = NewDisposeScope();
        var blocksEach = (lengths.Max() + PagedKeyValueCache.BlockRows - 1) / PagedKeyValueCache.BlockRows;
        var rows = blocksEach * PagedKeyValueCache.BlockRows;
        var row = m.Memory(Features(clips));
        var idx = tensor(positions, device: device);
        var performanceIndex = arange(bsz, device: device);
        var e = m["query_embed.weight"].index_select(0, idx);
        var pos = e.Plus(m.Positional.index_select(0, idx));
        var layer0 = Layer0();
        using var reading = paged?.Reading();
        var headDim = o.ModelDim / o.Heads;
        var inPlace = paged is not null && InPlaceAttention;
        // In place: this step's new rows go into the pool as they are computed (a query attends to its own position
        // too) and attention reads the pool where it lies. Otherwise every performance's cached rows are gathered in one
        // copy [caches, H, B, rows, dh], the new rows written into the copy, and into the pool at the end.
        Tensor? kv = null;
        Tensor? mask = null;   // the gather's padding: rows past each performance's length
        PagedKeyValueCache.View pool = default;
        // Where each performance's new row goes (nothing is cached without a pool: one local layer).
        var blockIds = new long[bsz];
        var offsets = new long[bsz];
        for (var b = 0; b < bsz && paged is not null; b++)
        {
            blockIds[b] = performances[b].Blocks[(int)(positions[b] / PagedKeyValueCache.BlockRows)];
            offsets[b] = positions[b] % PagedKeyValueCache.BlockRows;
        }
        var blockLists = performances.Select(p => p.Blocks).ToList();
        if (inPlace) { pool = paged!.Memory(); }
        else if (paged is not null)
        {
            var table = new long[bsz * blocksEach];
            for (var b = 0; b < bsz; b++)
            {
                var blocks = performances[b].Blocks;
                for (var j = 0; j < blocksEach && j < blocks.Count; j++) { table[(b * blocksEach) + j] = blocks[j]; }
            }
            kv = paged.Gather(table, bsz, rows);
            mask = KeyMask(lengths, rows, device);
        }
        void Put(int slot, Tensor newRows)
        {
            if (inPlace) { PagedAttention.Write(pool, slot, PagedAttention.Floats(newRows.contiguous()), blockIds, offsets); }
            else { Cached(slot).index_put_(newRows.view(bsz, o.Heads, headDim).transpose(0, 1), TensorIndex.Colon, TensorIndex.Tensor(performanceIndex), TensorIndex.Tensor(idx)); }
        }
        Tensor Cached(int slot) => kv!.select(0, slot); // [H, B, rows, dh]
        float[]? mapRows = null;   // the last cross-attention's head-averaged map [B, rows]
        Tensor Attend(string name, Tensor q, int keySlot, bool withMap)
        {
            if (!inPlace)
            {
                var (attendedOut, map) = AttendOne(name, q, Cached(keySlot), Cached(keySlot + 1), mask!);
                if (withMap) { mapRows = map.cpu().data<float>().ToArray(); }
                return attendedOut;
            }
            var attended = empty(bsz, o.ModelDim, dtype: ScalarType.Float32);
            if (withMap) { mapRows = new float[bsz * rows]; }
            PagedAttention.Attend(pool, keySlot, PagedAttention.Floats(q.contiguous()), blockLists, lengths, PagedAttention.Floats(attended),
                withMap ? mapRows : [], (int)rows);
            return _model.Linear(attended, $"{name}.out_proj");
        }
        var x = e;
        for (var i = 0; i < o.Layers; i++)
        {
            var prefix = $"decoder.layers.{i}";
            Tensor x1;
            if (i == 0)
            {
                // Layer 0's query side reads the learned queries only: looked up per position, nothing cached.
                x1 = layer0.AfterSelf.index_select(0, idx);
            }
            else
            {
                // Causal self-attention: q = k = LN1(x) + p, v = LN1(x), x1 = S + S (no dropout at inference).
                var t1 = m.LayerNorm(x, $"{prefix}.norm1");
                var qk = t1.Plus(pos);
                var (wq, bq) = m.InProjection($"{prefix}.self_attn", 0);
                var (wk, bk) = m.InProjection($"{prefix}.self_attn", 1);
                var (wv, bv) = m.InProjection($"{prefix}.self_attn", 2);
                Put(SelfKeySlot(i), F.linear(qk, wk, bk));
                Put(SelfKeySlot(i) + 1, F.linear(t1, wv, bv));
                var s = Attend($"{prefix}.self_attn", F.linear(qk, wq, bq), SelfKeySlot(i), withMap: false);
                x1 = s.Plus(s);
            }
            Tensor c;
            if (o.LocalCross)
            {
                // Query q reads clip q alone: its value row, nothing cached.
                var (wv, bv) = m.InProjection($"{prefix}.multihead_attn", 2);
                c = m.Linear(F.linear(row, wv, bv), $"{prefix}.multihead_attn.out_proj");
                mapRows = null;
            }
            else
            {
                var (ck, cv) = m.CrossKeyValue(i, row);
                Put(CrossKeySlot(i), ck);
                Put(CrossKeySlot(i) + 1, cv);
                var (cwq, cbq) = m.InProjection($"{prefix}.multihead_attn", 0);
                var q = i == 0 ? layer0.CrossQuery!.index_select(0, idx) : F.linear(m.LayerNorm(x1, $"{prefix}.norm2").Plus(pos), cwq, cbq);
                c = Attend($"{prefix}.multihead_attn", q, CrossKeySlot(i), withMap: i == o.Layers - 1);
            }
            x = m.FeedForward(x1.Plus(c), prefix, training: false);
        }
        if (kv is not null)
        {
            paged!.Write(blockIds, offsets, kv.index([TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Tensor(performanceIndex), TensorIndex.Tensor(idx)]));
        }
        var h = m.LayerNorm(x, "decoder.norm");
        var scores = m.Mlp(h, "mean").cpu().data<float>().ToArray();
        var logits = m.Mlp(h, "weight").cpu().data<float>().ToArray();
        var maps = mapRows; // [B, rows]
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
                attention = maps.AsSpan((int)(b * rows), n).ToArray();
            }
            performances[b].AddStreaming(logits[b], scores[b], attention);
        }
    }

    private bool _disposed;

    /// <summary>Releases the streaming performances' key/value pool (their states must not step afterwards).</summary>
    public void Dispose()
    {
        lock (_pagedGate)
        {
            _disposed = true;
            _paged?.Dispose();
            _paged = null;
        }
        lock (_layer0Gate)
        {
            _layer0?.AfterSelf.Dispose();
            _layer0?.CrossQuery?.Dispose();
            _layer0 = null;
            foreach (var (x1, q, pos) in _exactLayer0.Values)
            {
                x1.Dispose();
                q?.Dispose();
                pos.Dispose();
            }
            _exactLayer0.Clear();
            _exactLayer0Bytes = 0;
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
        // Exact mode keeps its cross-attention keys and values in buffers of its own; streaming mode's rows live in the
        // decoder's paged pool (Blocks).
        var exact = mode == IncrementalMode.Exact;
        CrossKeys = exact ? Enumerable.Range(0, layers).Select(_ => new RowCache(d, device)).ToArray() : [];
        CrossValues = exact ? Enumerable.Range(0, layers).Select(_ => new RowCache(d, device)).ToArray() : [];
    }

    internal TorchLiveDecoder Owner { get; }

    internal RowCache[] CrossKeys { get; }

    internal RowCache[] CrossValues { get; }

    /// <summary>Streaming: the ids of this performance's blocks in the decoder's paged pool, in position order.</summary>
    internal List<long> Blocks { get; } = [];

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
    public long CacheBytes => CrossKeys.Concat(CrossValues).Sum(c => c.Bytes) + (Blocks.Count * Owner.BlockBytes);

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
        foreach (var c in CrossKeys.Concat(CrossValues)) { c.Dispose(); }
        Owner.Release(Blocks);
    }
}
