namespace AqaStream.Pipeline.Contracts;

/// <summary>A short piece (1–2 s) of a venue camera's encoded video.</summary>
/// <param name="StreamId">The camera / encoder stream.</param>
/// <param name="PerformanceId">The performance it belongs to (the bus key).</param>
/// <param name="SequenceNumber">0-based chunk number within the performance.</param>
/// <param name="StartTime">Absolute wall-clock start of the chunk (containers such as fMP4 restart at 0 per chunk).</param>
/// <param name="DurationSeconds">Chunk length in seconds.</param>
/// <param name="Container">"mpegts", "cmaf" or "mp4".</param>
/// <param name="Codec">For example "h264".</param>
/// <param name="Payload">The encoded bytes (base64 on the wire), or null when <paramref name="PayloadRef"/> is given.</param>
/// <param name="PayloadRef">Where the bytes are (a URI) when they travel outside the message.</param>
/// <param name="InitSegment">CMAF only: the stream's init segment (ftyp + moov) the <c>.m4s</c> payload needs in front;
/// the ingest keeps the latest one per stream, so an encoder may send it only when it changes.</param>
public sealed record VideoChunk(
    string StreamId,
    string PerformanceId,
    long SequenceNumber,
    DateTimeOffset StartTime,
    double DurationSeconds,
    string Container,
    string Codec,
    byte[]? Payload = null,
    string? PayloadRef = null,
    byte[]? InitSegment = null) : PerformanceMessage(PerformanceId)
{
    /// <summary>The <c>type</c> on the wire.</summary>
    public const string TypeName = "video-chunk";
}
