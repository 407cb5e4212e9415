using AqaStream.Scoring.Metrics;
using Xunit;

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
        Assert.Equal(0.9486833, RegressionMetrics.Spearman([1.0, 2.0, 2.0, 3.0], [1.0, 3.0, 2.0, 4.0]), 6);
        Assert.Equal(-1.0, RegressionMetrics.Spearman([1.0, 2.0, 3.0], [9.0, 4.0, 1.0]), 9);
    }

    [Fact]
    public void MseRl2Pearson_MatchDefinitions()
    {
        double[] p = [10, 20, 30];
        double[] y = [12, 18, 33];
        Assert.Equal((4 + 4 + 9) / 3.0, RegressionMetrics.Mse(p, y), 9);
        Assert.Equal(((2.0 / 21) * (2.0 / 21) * 2 + (3.0 / 21) * (3.0 / 21)) / 3, RegressionMetrics.RelativeL2(p, y), 9);
        Assert.Equal(1.0, RegressionMetrics.Pearson([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]), 9);
        Assert.True(double.IsNaN(RegressionMetrics.Pearson([1.0, 1.0], [2.0, 3.0])));
    }

    [Fact]
    public void FisherZAverage_OfTwoCorrelations()
    {
        Assert.Equal(0.5, RegressionMetrics.FisherZAverage([0.5, 0.5]), 9);
        Assert.Equal(Math.Tanh((Math.Atanh(0.716) + Math.Atanh(0.843)) / 2), RegressionMetrics.FisherZAverage([0.716, 0.843]), 9);
        Assert.True(RegressionMetrics.FisherZAverage([0.716, 0.843]) < (0.716 + 0.843) / 2 + 0.01);
    }
}
