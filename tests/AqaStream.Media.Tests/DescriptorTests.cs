using Xunit;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Synthetic;

namespace AqaStream.Media.Tests;

public class DescriptorTests
{
    private static readonly FrameSize s_size = MotionAppearanceDescriptor.DefaultInputSize;

    // The luma plane of a scene rendered directly at the descriptor's size is a grey frame it can read.
    private static byte[][] Render(SyntheticProgram program, double from, int frames = 32)
    {
        var scene = new SyntheticScene(program, s_size);
        var yuv = new byte[scene.FrameBytes];
        return [.. Enumerable.Range(0, frames).Select(i =>
        {
            scene.Render(from + (i / 25.0), yuv);
            return yuv[..s_size.Bytes];
        })];
    }

    private static SyntheticProgram Spin(double rps, double execution) =>
        new("p", "A", 7, 0.8, 10,
            [new SyntheticElement(ElementKind.Spin, 0, 10, 0, rps, 1 + (1.5 * rps), execution)], 120, 120);

    private static float MotionEnergy(float[] d) => d[0] + d[21] + d[42] + d[63];   // whole-frame cell of each segment

    [Fact]
    public void Descriptor_StaticClip_HasNoMotion()
    {
        var frame = Render(Spin(1, 1), 0, 1)[0];
        var d = new MotionAppearanceDescriptor().Extract([.. Enumerable.Repeat(frame, 32)]);
        Assert.Equal(MotionAppearanceDescriptor.FeatureLength, d.Length);
        Assert.Equal(0f, MotionEnergy(d));
        Assert.All(d, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Descriptor_SameFrames_SameVector()
    {
        var frames = Render(Spin(2, 0.6), 1);
        var a = new MotionAppearanceDescriptor().Extract(frames);
        var b = new MotionAppearanceDescriptor().Extract([.. frames.Select(f => (byte[])f.Clone())]);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Descriptor_FasterRotation_MoreMotion()
    {
        var slow = new MotionAppearanceDescriptor().Extract(Render(Spin(0.8, 1), 2));
        var fast = new MotionAppearanceDescriptor().Extract(Render(Spin(2.5, 1), 2));
        Assert.True(MotionEnergy(fast) > 1.3 * MotionEnergy(slow), $"fast {MotionEnergy(fast)} vs slow {MotionEnergy(slow)}");
    }

    [Fact]
    public void Descriptor_PoorExecution_ChangesPostureTerms()
    {
        // Same rotation, different execution: the orientation histograms (posture, wobble) must tell them apart.
        var clean = new MotionAppearanceDescriptor().Extract(Render(Spin(1.5, 1.0), 2));
        var shaky = new MotionAppearanceDescriptor().Extract(Render(Spin(1.5, 0.1), 2));
        var orientationStart = MotionAppearanceDescriptor.FeatureLength - 16 - MotionAppearanceDescriptor.OrientationBins - (5 * MotionAppearanceDescriptor.OrientationBins);
        var diff = clean.Skip(orientationStart).Take(6 * MotionAppearanceDescriptor.OrientationBins).Zip(shaky.Skip(orientationStart)).Sum(p => Math.Abs(p.First - p.Second));
        Assert.True(diff > 0.05, $"posture terms differ by {diff}");
    }

    [Fact]
    public void Descriptor_WrongFrameSize_ClearError()
    {
        var e = Assert.Throws<ArgumentException>(() => new MotionAppearanceDescriptor().Extract([new byte[10], new byte[10]]));
        Assert.Contains("expected 9216", e.Message, StringComparison.Ordinal);
    }
}
