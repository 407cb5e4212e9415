namespace AqaStream.Media.Decoding;

/// <summary>Size of the 8-bit grey frames the decoder hands to windowing and feature extraction.</summary>
public readonly record struct FrameSize(int Width, int Height)
{
    /// <summary>Bytes of one frame (one byte per pixel).</summary>
    public int Bytes => Width * Height;

    /// <summary>Parses <c>WIDTHxHEIGHT</c>, e.g. <c>1280x720</c>.</summary>
    public static FrameSize Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('x', 'X');
        if (parts.Length == 2 && int.TryParse(parts[0], out var w) && int.TryParse(parts[1], out var h) && w >= 16 && h >= 16 && w % 2 == 0 && h % 2 == 0)
        {
            return new FrameSize(w, h);
        }
        throw new ArgumentException($"'{text}' is not a frame size: expected WIDTHxHEIGHT with even sides of at least 16, e.g. 1280x720.");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Width}x{Height}";
}
