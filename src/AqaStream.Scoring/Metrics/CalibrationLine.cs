namespace AqaStream.Scoring.Metrics;

/// <summary>
/// The least-squares line y ≈ a·x + b of judged scores on held-out predictions, with a &gt; 0: where the fit's slope is
/// not positive (a model that ranks nothing, or backwards), a = 1 and only the mean offset is removed. Used to
/// recalibrate a trained model (ranks do not move) and to map a model trained on a mixed label back to the judged score.
/// </summary>
public static class CalibrationLine
{
    /// <summary>Fits the line; at least two pairs.</summary>
    public static (double Slope, double Intercept) Fit(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count || x.Count < 2) { throw new ArgumentException("A line needs at least two (prediction, score) pairs."); }
        var (mx, my) = (x.Average(), y.Average());
        double sxy = 0, sxx = 0;
        for (var i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        var slope = sxx > 0 && sxy > 0 ? sxy / sxx : 1;
        return (slope, my - (slope * mx));
    }

    /// <summary>
    /// How a candidate's held-out predictions <paramref name="x"/> of the judged scores <paramref name="y"/> would ship:
    /// as they are (<paramref name="mapBack"/> false: the identity line) or through their fitted line; and the sum of
    /// squared errors of what would ship, by which the ridges choose their companion weight and penalty.
    /// </summary>
    public static (double Sse, double Slope, double Intercept) AsShipped(IReadOnlyList<double> x, IReadOnlyList<double> y, bool mapBack)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var (a, b) = mapBack ? Fit(x, y) : (1.0, 0.0);
        var sse = 0.0;
        for (var i = 0; i < x.Count; i++) { sse += Math.Pow((a * x[i]) + b - y[i], 2); }
        return (sse, a, b);
    }
}
