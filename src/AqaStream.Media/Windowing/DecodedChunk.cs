namespace AqaStream.Media.Windowing;

/// <summary>A chunk's decoded frames, placed on the performance's frame axis.</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="SequenceNumber">The chunk's number in its stream.</param>
/// <param name="FirstFrame">Index of its first frame counted from the performance start (from the chunk's absolute
/// start time, so a lost chunk before it leaves a gap instead of shifting it).</param>
/// <param name="Frames">Grey frames, in order.</param>
/// <param name="ArrivedAt">When the chunk reached the ingest (for latency figures).</param>
public sealed record DecodedChunk(string PerformanceId, long SequenceNumber, long FirstFrame, IReadOnlyList<byte[]> Frames, DateTimeOffset ArrivedAt);

/// <summary>N consecutive frames of one performance: the unit the scorer gives a weight and a score.</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="ClipIndex">0-based clip number (clip k starts at frame k × stride).</param>
/// <param name="FirstFrame">Its first frame on the performance's frame axis.</param>
/// <param name="Start">Seconds from the performance start to its first frame.</param>
/// <param name="End">Seconds from the performance start to the end of its last frame.</param>
/// <param name="Frames">Its grey frames.</param>
/// <param name="ArrivedAt">Arrival of the chunk that completed it.</param>
public sealed record VideoClip(string PerformanceId, int ClipIndex, long FirstFrame, double Start, double End, IReadOnlyList<byte[]> Frames, DateTimeOffset ArrivedAt);
