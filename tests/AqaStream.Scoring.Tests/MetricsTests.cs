using AqaStream.Scoring.Metrics;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Scoring.Tests;

public class MetricsTests
{
    [Fact]
    public void Ranks_TiesAveraged()
    {
        Assert.Equal(new[] { 1.0, 2.5, 2.5, 4.0 }, RegressionMetrics.Ranks([1.0, 2.0, 2.0, 3.0]));
        Assert.Equal(new[] { 3.0, 1.0, 3.0, 3.0 }, RegressionMetrics.Ranks([5.0, 1.0, 5.0, 5.0]));
    }

    [Fact]
    public void Spearman_WithTies_MatchesHandComputedValue()
    {
        // ranks x: 1, 2.5, 2.5, 4; ranks y: 1, 3, 2, 4 → Pearson of ranks = 4.5 / sqrt(4.5 · 5) = 0.948683
        AssertClose.Equal(0.9486833, RegressionMetrics.Spearman([1.0, 2.0, 2.0, 3.0], [1.0, 3.0, 2.0, 4.0]), absolute: 1e-6, relative: 1e-6);
        AssertClose.Equal(-1.0, RegressionMetrics.Spearman([1.0, 2.0, 3.0], [9.0, 4.0, 1.0]), absolute: 1e-9, relative: 1e-9);
    }

    [Fact]
    public void MseRl2Pearson_MatchDefinitions()
    {
        double[] p = [10, 20, 30];
        double[] y = [12, 18, 33];
        AssertClose.Equal((4 + 4 + 9) / 3.0, RegressionMetrics.Mse(p, y), absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(((2.0 / 21) * (2.0 / 21) * 2 + (3.0 / 21) * (3.0 / 21)) / 3, RegressionMetrics.RelativeL2(p, y), absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(1.0, RegressionMetrics.Pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]), absolute: 1e-9, relative: 1e-9);
        Assert.True(double.IsNaN(RegressionMetrics.Pearson([1.0, 1.0], [2.0, 3.0])));
    }

    [Fact]
    public void FisherZAverage_OfTwoCorrelations()
    {
        AssertClose.Equal(0.5, RegressionMetrics.FisherZAverage([0.5, 0.5]), absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(Math.Tanh((Math.Atanh(0.716) + Math.Atanh(0.843)) / 2), RegressionMetrics.FisherZAverage([0.716, 0.843]), absolute: 1e-9, relative: 1e-9);
        Assert.True(RegressionMetrics.FisherZAverage([0.716, 0.843]) < (0.716 + 0.843) / 2 + 0.01);
    }
}
