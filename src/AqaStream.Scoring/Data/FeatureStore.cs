namespace AqaStream.Scoring.Data;

/// <summary>A performance's clip features [Clips, FeatureDim] and (when known) its judged score.</summary>
public sealed record PerformanceSample(string Id, float[] Features, int Clips, int FeatureDim, float? Score)
{
    /// <summary>The performance's other judged score (PCS when <see cref="Score"/> is TES, and the reverse), when known: a
    /// training method may learn from it as well (<see cref="TrainingLabel"/>); it is never an input of a prediction.</summary>
    public float? Companion { get; init; }

    /// <summary>The judges' deductions (points taken off the total, 1 per fall), when known: the positional ridges' deduction
    /// term (<see cref="Model.ClipDeductions"/>) learns from them; never an input of a prediction.</summary>
    public float? Deductions { get; init; }

    /// <summary>Throws a one-line <see cref="ArgumentException"/> unless there is at least one weight and every one is finite and 0 or more.</summary>
    public static void CheckCompanionWeights(IReadOnlyList<double> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count == 0 || weights.Any(w => !(w >= 0) || !double.IsFinite(w)))
        {
            throw new ArgumentException($"The companion weight must be 0 or more; got {(weights.Count == 0 ? "none" : string.Join(", ", weights))}.");
        }
    }

    /// <summary>
    /// What a method trains on: the judged score plus <paramref name="companionWeight"/> times the companion score. A
    /// mixed label ranks performances by a less noisy quantity (the skater's level shows in both scores); the method maps
    /// its predictions back to the judged score with a line fitted on held-out predictions. Weight 0 is the judged score.
    /// </summary>
    public double TrainingLabel(double companionWeight)
    {
        var score = Score ?? throw new ArgumentException($"{Id}: a training performance needs a judged score.");
        if (companionWeight == 0) { return score; }
        var companion = Companion ?? throw new ArgumentException($"{Id}: a companion weight needs the other judged score as well, and this performance has none.");
        return score + (companionWeight * companion);
    }
}

/// <summary>Loads per-performance clip features from a directory of <c>{id}.npy</c> files.</summary>
public static class FeatureStore
{
    /// <summary>Reads <c>{directory}/{id}.npy</c>, checking the feature width.</summary>
    public static PerformanceSample Load(string directory, string id, int expectedFeatureDim, float? score = null)
    {
        var path = Path.Combine(directory, id + ".npy");
        if (!File.Exists(path))
        {
            throw new DataFormatException($"{path}: missing feature file for performance '{id}'.");
        }
        var m = NpyReader.ReadFile(path);
        if (m.Columns != expectedFeatureDim)
        {
            throw new DataFormatException($"{path}: features are {m.Columns} wide, the model expects {expectedFeatureDim}.");
        }
        if (m.Rows == 0)
        {
            throw new DataFormatException($"{path}: no clips.");
        }
        foreach (var v in m.Data)
        {
            if (!float.IsFinite(v)) { throw new DataFormatException($"{path}: contains NaN or infinite values."); }
        }
        return new PerformanceSample(id, m.Data, m.Rows, m.Columns, score);
    }

    /// <summary>Loads every labelled performance for a target.</summary>
    public static IReadOnlyList<PerformanceSample> LoadLabelled(string directory, IEnumerable<PerformanceLabel> labels, ScoreTarget target, int featureDim) =>
        labels.Select(l => Load(directory, l.Id, featureDim, l.Score(target)) with { Companion = l.Score(target == ScoreTarget.TES ? ScoreTarget.PCS : ScoreTarget.TES), Deductions = l.Deductions }).ToList();
}
