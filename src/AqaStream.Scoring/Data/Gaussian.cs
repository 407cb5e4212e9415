namespace AqaStream.Scoring.Data;

/// <summary>Normal and uniform fills from a seeded <see cref="Random"/>, so every run with a seed is the same.</summary>
public static class Gaussian
{
    /// <summary>One draw from N(mean, std²) (Box–Muller).</summary>
    public static float Next(Random rng, float mean = 0f, float std = 1f)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return mean + std * (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }

    /// <summary>Fills with N(mean, std²).</summary>
    public static void Fill(Span<float> values, Random rng, float mean = 0f, float std = 1f)
    {
        for (var i = 0; i < values.Length; i++) { values[i] = Next(rng, mean, std); }
    }

    /// <summary>Fills with U(-bound, bound).</summary>
    public static void FillUniform(Span<float> values, Random rng, float bound)
    {
        ArgumentNullException.ThrowIfNull(rng);
        for (var i = 0; i < values.Length; i++) { values[i] = (float)((rng.NextDouble() * 2 - 1) * bound); }
    }
}
