using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Tests;

/// <summary>Unlabelled test performances: 6 to 35 clips of standard normal features (the caller shapes them further and
/// labels them).</summary>
internal static class RandomClips
{
    public static PerformanceSample Performance(Random rng, string id, int dim)
    {
        var clips = 6 + rng.Next(30);
        var f = new float[clips * dim];
        Gaussian.Fill(f, rng);
        return new PerformanceSample(id, f, clips, dim, null);
    }
}
