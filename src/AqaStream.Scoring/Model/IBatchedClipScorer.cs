namespace AqaStream.Scoring.Model;

/// <summary>A scorer whose live states (from <see cref="IClipScorer.StartPerformance"/>) can be advanced together:
/// one clip for each of many performances in one batched step, as an inference server batches stateful sequences.
/// The results equal appending each clip alone.</summary>
public interface IBatchedClipScorer : IClipScorer
{
    /// <summary>Appends one clip to each listed state (a state at most once) in one step. Every vector is checked first:
    /// a wrong width or a NaN throws <see cref="ArgumentException"/> and changes no state. Calls on disjoint states
    /// may run at once on different threads (the live batcher cuts a step into parts).</summary>
    void Step(IReadOnlyList<(IncrementalDecoder State, float[] Features)> clips);
}
