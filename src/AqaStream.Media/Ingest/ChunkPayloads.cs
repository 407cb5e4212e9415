using AqaStream.Pipeline.Contracts;

namespace AqaStream.Media.Ingest;

/// <summary>Where a chunk's bytes are: in the message, or (claim check) in a file named by <c>payloadRef</c>.</summary>
public static class ChunkPayloads
{
    /// <summary>The chunk's bytes; throws <see cref="InvalidDataException"/> saying why when they cannot be had.</summary>
    public static byte[] Read(VideoChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (chunk.Payload is { } inline) { return inline; }
        if (chunk.PayloadRef is not { Length: > 0 } reference) { throw new InvalidDataException("the chunk has neither payload nor payloadRef."); }
        string path;
        if (Uri.TryCreate(reference, UriKind.Absolute, out var uri) && uri.IsFile) { path = uri.LocalPath; }
        else if (Path.IsPathRooted(reference)) { path = reference; }
        else { throw new InvalidDataException($"payloadRef '{reference}' is not a file:// URI or an absolute path (the only claim checks this ingest reads)."); }
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"payloadRef '{reference}' cannot be read: {e.Message}", e);
        }
    }
}
