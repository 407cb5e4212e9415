namespace AqaStream.Pipeline.Contracts;

/// <summary>One clip's feature vector (Fis-V: 32 frames at 25 fps, 1024 values).</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="ClipIndex">0-based position of the clip in the performance (the sequence number).</param>
/// <param name="Start">Clip start, seconds from the performance start.</param>
/// <param name="End">Clip end, seconds from the performance start.</param>
/// <param name="Vector">The features.</param>
/// <param name="ReceivedAt">When the chunk that completed this clip reached the ingest (carried on to the scores, so the
/// delivery end can measure chunk-to-screen latency); null when the features did not come from live video.</param>
public sealed record ClipFeatures(string PerformanceId, int ClipIndex, double Start, double End, float[] Vector,
    DateTimeOffset? ReceivedAt = null)
    : PerformanceMessage(PerformanceId)
{
    /// <summary>The <c>type</c> on the wire.</summary>
    public const string TypeName = "clip-features";
}
