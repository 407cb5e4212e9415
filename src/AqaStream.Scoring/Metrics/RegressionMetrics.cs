namespace AqaStream.Scoring.Metrics;

/// <summary>Agreement of predicted and judged scores: Spearman ρ (headline), MSE and R-ℓ2 on the original scale.</summary>
public sealed record RegressionReport(double Spearman, double Pearson, double Mse, double RelativeL2, int Count);

/// <summary>The metrics of ARCHITECTURE.md "Metrics", in one place.</summary>
public static class RegressionMetrics
{
    /// <summary>All metrics for paired predictions and labels.</summary>
    public static RegressionReport Evaluate(IReadOnlyList<double> predicted, IReadOnlyList<double> actual) =>
        new(Spearman(predicted, actual), Pearson(predicted, actual), Mse(predicted, actual), RelativeL2(predicted, actual), predicted.Count);

    /// <summary>Spearman's ρ: Pearson correlation of ranks, ties given their average rank.</summary>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        RequirePairs(x, y);
        return Pearson(Ranks(x), Ranks(y));
    }

    /// <summary>Pearson's correlation; NaN when either side is constant.</summary>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        RequirePairs(x, y);
        var n = x.Count;
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < n; i++)
        {
            var (dx, dy) = (x[i] - mx, y[i] - my);
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        return sxx == 0 || syy == 0 ? double.NaN : sxy / Math.Sqrt(sxx * syy);
    }

    /// <summary>Mean signed error (bias): mean of predicted − actual.</summary>
    public static double MeanSignedError(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        RequirePairs(predicted, actual);
        return predicted.Zip(actual, (p, a) => p - a).Average();
    }

    /// <summary>Mean squared error.</summary>
    public static double Mse(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        RequirePairs(predicted, actual);
        return predicted.Zip(actual, (p, a) => (p - a) * (p - a)).Average();
    }

    /// <summary>R-ℓ2 = mean(((ŷ − y) / (max y − min y))²).</summary>
    public static double RelativeL2(IReadOnlyList<double> predicted, IReadOnlyList<double> actual)
    {
        RequirePairs(predicted, actual);
        var range = actual.Max() - actual.Min();
        return range == 0 ? double.NaN : predicted.Zip(actual, (p, a) => Math.Pow((p - a) / range, 2)).Average();
    }

    /// <summary>Average of correlations through Fisher's z: tanh(mean(atanh(ρ_i))).</summary>
    public static double FisherZAverage(IEnumerable<double> correlations)
    {
        ArgumentNullException.ThrowIfNull(correlations);
        var clipped = correlations.Select(r => Math.Clamp(r, -0.9999999, 0.9999999)).ToList();
        return clipped.Count == 0 ? double.NaN : Math.Tanh(clipped.Average(Math.Atanh));
    }

    /// <summary>1-based ranks with ties averaged.</summary>
    public static double[] Ranks(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        for (var i = 0; i < order.Length;)
        {
            var j = i;
            while (j + 1 < order.Length && values[order[j + 1]] == values[order[i]]) { j++; }
            var avg = (i + j) / 2.0 + 1;
            for (var k = i; k <= j; k++) { ranks[order[k]] = avg; }
            i = j + 1;
        }
        return ranks;
    }

    private static void RequirePairs(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count || x.Count < 2)
        {
            throw new ArgumentException($"Metrics need at least two paired values (got {x.Count} and {y.Count}).");
        }
    }
}
