using Xunit.Sdk;

namespace AqaStream.Tests.Shared;

/// <summary>
/// Numeric comparison with an explicit tolerance: |actual − expected| ≤ absolute + relative·|expected|.
/// Replaces xunit's decimal-rounding overload (<c>Assert.Equal(e, a, digits)</c>), which fails on values that straddle
/// a rounding boundary however close they are (0.244475007 vs 0.244474903 at 5 digits).
/// </summary>
internal static class AssertClose
{
    /// <summary>Tolerances of float32 arithmetic done in a different order (summation, GEMM blocking, threads).</summary>
    public const double Float32 = 1e-5;

    public static void Equal(double expected, double actual, double absolute, double relative)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(absolute);
        ArgumentOutOfRangeException.ThrowIfNegative(relative);
        var bound = absolute + (relative * Math.Abs(expected));
        var difference = Math.Abs(actual - expected);
        if (double.IsNaN(actual) || double.IsNaN(expected) || !(difference <= bound))
        {
            throw new XunitException(
                $"Values differ beyond tolerance.{Environment.NewLine}Expected: {expected:R}{Environment.NewLine}Actual:   {actual:R}{Environment.NewLine}"
                + $"|difference| {difference:G4} > {bound:G4} (absolute {absolute:G3} + relative {relative:G3})");
        }
    }
}
