using System.Collections.Concurrent;
using TorchSharp;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// Scalars handed to libtorch on hot paths, made once and kept for the process's life. TorchSharp passes a
/// <see cref="Scalar"/> to native code as its bare handle, so a temporary one (an implicit conversion such as
/// <c>masked_fill(mask, float.NegativeInfinity)</c>) can be finalised by the GC while the native call it was made for
/// still reads it. That happened: 4,000 live performances (frequent GCs) aborted the process inside <c>masked_fill</c>
/// with c10's "Expected false to be true" from <c>Scalar::toFloat</c>. A scalar held by a static field is never
/// finalised.
/// </summary>
public static class TorchScalars
{
    private static readonly ConcurrentDictionary<double, Scalar> s_values = new();

    /// <summary>−∞ (masked attention scores and logits).</summary>
    public static Scalar NegativeInfinity { get; } = Of(double.NegativeInfinity);

    /// <summary>1 (the alpha of a tensor sum: TorchSharp's <c>a + b</c> makes a temporary one on every call).</summary>
    public static Scalar One { get; } = Of(1.0);

    /// <summary><paramref name="a"/> + <paramref name="b"/> with the held alpha (use it instead of the operator on
    /// hot paths).</summary>
    public static torch.Tensor Plus(this torch.Tensor a, torch.Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        return a.add(b, One);
    }

    /// <summary>The scalar <paramref name="value"/> (a double, as the implicit conversions from double make).</summary>
    public static Scalar Of(double value) => s_values.GetOrAdd(value, v => v.ToScalar()); // dispose scopes do not track scalars
}
