namespace AqaStream.Pipeline.Contracts;

/// <summary>A clip's middle frame as a PNG, for the judge tablet. The ingest publishes it on
/// <see cref="Bus.Topics.PerformanceEvents"/> beside the performance's start and end, so that delivery never reads the
/// feature topic (the scorer's input).</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="ClipIndex">0-based clip position.</param>
/// <param name="Png">The PNG (grey, at the extractor's input size).</param>
public sealed record ClipThumbnail(string PerformanceId, int ClipIndex, byte[] Png) : PerformanceMessage(PerformanceId)
{
    /// <summary>The <c>type</c> on the wire.</summary>
    public const string TypeName = "clip-thumbnail";
}
