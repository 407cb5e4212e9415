namespace AqaStream.Scoring.Model;

/// <summary>The sinusoidal encoding of "Attention is all you need" as the reference computes it
/// (float32 frequencies): PE(pos, 2i) = sin(pos·ω_i), PE(pos, 2i+1) = cos(pos·ω_i), ω_i = 10000^(−2i/d).</summary>
public static class PositionalEncoding
{
    /// <summary>Writes PE(position) into a row of width d.</summary>
    public static void Write(int position, Span<float> row)
    {
        var d = row.Length;
        var logBase = (float)-(Math.Log(10000.0) / d);
        for (var i = 0; i < d; i += 2)
        {
            var omega = MathF.Exp(i * logBase);
            var angle = position * omega;
            row[i] = (float)Math.Sin(angle);
            if (i + 1 < d) { row[i + 1] = (float)Math.Cos(angle); }
        }
    }
}
