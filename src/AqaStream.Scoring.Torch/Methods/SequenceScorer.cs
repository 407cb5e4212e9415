using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace AqaStream.Scoring.Torch.Methods;

/// <summary>
/// A trained sequence method as an <see cref="IClipScorer"/>: offline scoring in masked batches, live states that
/// recompute the offline forward on the clips so far (exact mode: the provisional equals the offline score of the
/// prefix; these methods are bidirectional, so there is no streaming mode), and checkpoints (its state_dict under
/// <see cref="ModelCard.SequenceFormat"/>). Scores are in points (the card's scale is 1). Forward passes in evaluation
/// only read the module (inference mode and dispose scopes are per thread), so live lanes and offline callers run them at
/// once without a lock: two lanes replaying the PCS default scored 256-258 clips/s without one, 212-217 with it.
/// </summary>
public sealed class SequenceScorer : IClipScorer, ISavedModel, IDisposable
{
    /// <summary>Wraps a model (put into evaluation mode).</summary>
    public SequenceScorer(SequenceModel model)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Model.eval();
    }

    /// <summary>The model.</summary>
    public SequenceModel Model { get; }

    /// <summary>The architecture.</summary>
    public SequenceMethodOptions Options => Model.Options;

    /// <inheritdoc/>
    public string Method => Options.Method;

    /// <inheritdoc/>
    public int FeatureDim => Options.FeatureDim;

    /// <inheritdoc/>
    public int MaxClips => Options.MaxClips;

    /// <inheritdoc/>
    public bool Causal => false;

    /// <inheritdoc/>
    public string Format => ModelCard.SequenceFormat;

    /// <inheritdoc/>
    public ModelCard Describe(ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        return card with { SequenceMethod = Options, Architecture = card.Architecture with { FeatureDim = FeatureDim, MaxQueries = MaxClips } };
    }

    /// <summary>Learnable values.</summary>
    public long ParameterCount => Model.parameters().Sum(p => p.numel());

    /// <summary>Registers the checkpoint format with <see cref="CheckpointStore"/> (idempotent).</summary>
    public static void Register() => CheckpointStore.RegisterFormat(ModelCard.SequenceFormat, Load);

    /// <inheritdoc/>
    public IncrementalDecoder StartPerformance(IncrementalMode mode)
    {
        if (mode == IncrementalMode.Streaming)
        {
            throw new InvalidOperationException($"{Method} attends over the whole performance, so it has no streaming mode: use exact mode.");
        }
        return new RecomputeState(this);
    }

    /// <inheritdoc/>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, float scoreScale)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var results = new PerformancePrediction[samples.Count];
        var order = Enumerable.Range(0, samples.Count).OrderByDescending(i => samples[i].Clips).ToArray();
        for (var start = 0; start < order.Length; start += PerformanceScorer.DefaultBatchSize)
        {
            var idx = order.Skip(start).Take(PerformanceScorer.DefaultBatchSize).ToArray();
            foreach (var i in idx)
            {
                if (samples[i].FeatureDim != FeatureDim) { throw new ArgumentException($"{samples[i].Id}: {samples[i].FeatureDim} feature values per clip; the model reads {FeatureDim}."); }
                if (samples[i].Clips == 0) { throw new ArgumentException($"{samples[i].Id}: a performance needs at least one clip."); }
                if (samples[i].Clips > MaxClips) { throw new ArgumentException($"{samples[i].Id}: {samples[i].Clips} clips exceed the model's {MaxClips}."); }
            }
            var scored = Run(idx.Select(i => samples[i].Features).ToList());
            for (var k = 0; k < idx.Length; k++) { results[idx[k]] = scored[k] with { Id = samples[idx[k]].Id }; }
        }
        // scoreScale multiplies model units; these models already answer in points.
        return scoreScale == 1f ? results : [.. results.Select(p => Scale(p, scoreScale))];
    }

    /// <summary>Scores padded sequences in one forward pass; explanations in points.</summary>
    internal PerformancePrediction[] Run(IReadOnlyList<float[]> sequences)
    {
        var batch = ScorerBatch.FromSequences(sequences, FeatureDim);
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var x = tensor(batch.Features, [batch.BatchSize, batch.Clips, batch.FeatureDim]);
        var mask = arange(batch.Clips).unsqueeze(0) < tensor(batch.Lengths.Select(l => (long)l).ToArray()).unsqueeze(1);
        var output = Model.call(x, mask);
        var z = output.Score.cpu().data<float>().ToArray();
        var w = output.Weights.cpu().data<float>().ToArray();
        var s = output.ClipScores.cpu().data<float>().ToArray();
        var results = new PerformancePrediction[batch.BatchSize];
        for (var b = 0; b < batch.BatchSize; b++) { results[b] = Prediction(z[b], w.AsSpan(b * batch.Clips, batch.Lengths[b]), s.AsSpan(b * batch.Clips, batch.Lengths[b])); }
        return results;
    }

    /// <summary>One live step: embeds <paramref name="clip"/> alone (<see cref="SequenceModel.EmbedClips"/>), appends
    /// its row to <paramref name="states"/> (a performance's kept rows, one after another), and aggregates every row so
    /// far: the offline forward of the clips so far, without re-embedding them.</summary>
    internal PerformancePrediction Advance(List<float> states, ReadOnlySpan<float> clip)
    {
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var embedded = Model.EmbedClips(tensor(clip.ToArray(), [1, 1, FeatureDim]), ones(1, 1, dtype: ScalarType.Bool));
        var row = embedded.cpu().data<float>().ToArray();
        states.AddRange(row);
        try
        {
            var n = states.Count / row.Length;
            var output = Model.Aggregate(tensor((IList<float>)states, new long[] { 1, n, row.Length }), ones(1, n, dtype: ScalarType.Bool));
            return Prediction(output.Score.cpu().item<float>(), output.Weights.cpu().data<float>().ToArray(), output.ClipScores.cpu().data<float>().ToArray());
        }
        catch
        {
            states.RemoveRange(states.Count - row.Length, row.Length);   // a failed step leaves the performance as it was
            throw;
        }
    }

    /// <summary>A performance's prediction in points from the model's normalised score and its clips' weights and scores.</summary>
    private PerformancePrediction Prediction(float z, ReadOnlySpan<float> w, ReadOnlySpan<float> s)
    {
        var (offset, span) = (Options.ScoreOffset, Options.ScoreSpan);
        var clips = new ClipExplanation[w.Length];
        for (var q = 0; q < clips.Length; q++)
        {
            var (wq, sq) = (w[q], offset + (span * s[q]));
            clips[q] = new ClipExplanation(q, wq, sq, wq * sq);
        }
        return new PerformancePrediction(string.Empty, offset + (span * z), clips);
    }

    private static PerformancePrediction Scale(PerformancePrediction p, float k) =>
        p with { Score = p.Score * k, Clips = [.. p.Clips.Select(c => c with { Score = c.Score * k, Contribution = c.Contribution * k, Deduction = c.Deduction * k })] };

    /// <inheritdoc/>
    public IReadOnlyList<NamedTensor> Tensors()
    {
        var list = new List<NamedTensor>();
        foreach (var (name, value) in Model.state_dict())
        {
            if (value.dtype != ScalarType.Float32) { continue; }   // batch norms' num_batches_tracked: unused with a momentum
            list.Add(new NamedTensor(name, value.detach().cpu().data<float>().ToArray(), [.. value.shape.Select(d => (int)d)]));
        }
        return list;
    }

    /// <summary>Loads a checkpoint of format <see cref="ModelCard.SequenceFormat"/>: every float tensor of the
    /// architecture must be there with its shape, and nothing else.</summary>
    public static SequenceScorer Load(SafeTensorsFile file, ModelCard card, string source)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(card);
        var options = card.SequenceMethod ?? throw new DataFormatException($"{source}: the card has no sequenceMethod.");
        var model = SequenceModel.Create(options, 0);
        var expected = model.state_dict().Where(p => p.Value.dtype == ScalarType.Float32).ToList();
        try
        {
            CheckpointStore.CheckTensors([.. expected.Select(p => (p.Key, p.Value.shape))], file.Tensors, source, $"the {options.Method} architecture");
        }
        catch (DataFormatException)
        {
            model.Dispose();
            throw;
        }
        using (no_grad())
        {
            foreach (var (name, value) in expected)
            {
                using var loaded = tensor(file.Tensors[name].Data, value.shape);
                value.copy_(loaded);
            }
        }
        return new SequenceScorer(model);
    }

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();

    /// <summary>A live performance in exact mode: each clip's state (<see cref="SequenceModel.EmbedClips"/>) is kept, and
    /// every clip so far is aggregated again when one arrives.</summary>
    private sealed class RecomputeState(SequenceScorer scorer) : IncrementalDecoder
    {
        private readonly List<float> _states = [];
        private float[] _logits = [];
        private float[] _scores = [];
        private float[] _attention = [];

        public override int Clips => _scores.Length;

        public override float Score { get; protected set; }

        public override ReadOnlySpan<float> Logits => _logits;

        public override ReadOnlySpan<float> ClipScores => _scores;

        public override ReadOnlySpan<float> LatestCrossAttention => _attention;

        public override IncrementalMode Mode => IncrementalMode.Exact;

        public override void Append(ReadOnlySpan<float> clipFeatures)
        {
            CheckClip(clipFeatures, scorer.FeatureDim, Clips, scorer.MaxClips);
            var p = scorer.Advance(_states, clipFeatures);
            Score = p.Score;
            _scores = [.. p.Clips.Select(c => c.Score)];
            _attention = [.. p.Clips.Select(c => c.Weight)];
            // Logits whose softmax is the weights (log w; a weight of 0 stays -inf-safe at the float minimum).
            _logits = [.. p.Clips.Select(c => c.Weight > 0 ? MathF.Log(c.Weight) : float.MinValue)];
        }
    }
}
