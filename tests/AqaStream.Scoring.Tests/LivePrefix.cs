using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>The check every clip-local scorer's live state passes: after each clip, its provisional and every clip score
/// and expected deduction so far equal the offline score of the clips so far.</summary>
internal static class LivePrefix
{
    /// <summary>Feeds <paramref name="sample"/> clip by clip to a live state of <paramref name="model"/> and compares
    /// with the offline prefix after each (absolute and relative <paramref name="tolerance"/>); returns the live state.</summary>
    public static IncrementalDecoder AssertEqualsOffline(IClipScorer model, PerformanceSample sample, IncrementalMode mode, double tolerance)
    {
        var live = model.StartPerformance(mode);
        var dim = sample.FeatureDim;
        for (var t = 1; t <= sample.Clips; t++)
        {
            live.Append(sample.Features.AsSpan((t - 1) * dim, dim));
            var prefix = model.Score([CrossValidation.Prefix(sample, t / (double)sample.Clips)], 1f)[0];
            Assert.Equal(t, live.Clips);
            AssertClose.Equal(prefix.Score, live.Score, absolute: tolerance, relative: 1e-5);
            for (var q = 0; q < t; q++) { AssertClose.Equal(prefix.Clips[q].Score, live.ClipScores[q], absolute: tolerance, relative: 1e-5); }
            var deductions = live.ClipDeductions;
            if (deductions.IsEmpty) { Assert.All(prefix.Clips, c => Assert.Equal(0f, c.Deduction)); }
            else
            {
                Assert.Equal(t, deductions.Length);
                for (var q = 0; q < t; q++) { AssertClose.Equal(prefix.Clips[q].Deduction, deductions[q], absolute: tolerance, relative: 1e-5); }
            }
            Assert.Equal(1f, live.LatestCrossAttention[t - 1]);   // a clip-local model: each clip from its own features
        }
        return live;
    }
}
