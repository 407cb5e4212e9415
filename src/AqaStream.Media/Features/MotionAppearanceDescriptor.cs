using AqaStream.Media.Decoding;
using AqaStream.Media.Windowing;

namespace AqaStream.Media.Features;

/// <summary>
/// The default extractor: a deterministic motion-and-appearance descriptor computed on the CPU from grey frames, with
/// no weights to download. Per clip (T frames, cut into <see cref="Segments"/> temporal segments):
/// <list type="bullet">
/// <item>motion energy: mean |frame difference| over a 1×1 + 2×2 + 4×4 spatial pyramid, per segment;</item>
/// <item>motion row profile: mean |frame difference| in horizontal bands, per half of the clip (where motion happens vertically: jumps);</item>
/// <item>motion moments: centroid, spread and xy covariance of the frame-difference energy, per segment (how far motion reaches: rotation);</item>
/// <item>gradient-orientation histograms (unsigned, <see cref="OrientationBins"/> bins) over a 1×1 + 2×2 pyramid, mean over the clip,
/// and the temporal standard deviation of the whole-frame histogram (posture and how much it changes: lean, wobble, falls);</item>
/// <item>appearance: mean intensity on a 4×4 grid.</item>
/// </list>
/// Energies go through log(1 + x) so that a few strong cells do not swamp the rest.
/// </summary>
public sealed class MotionAppearanceDescriptor : IClipFeatureExtractor
{
    /// <summary>Temporal segments per clip for the motion terms.</summary>
    public const int Segments = 4;

    /// <summary>Bands of the motion row profile.</summary>
    public const int RowBands = 12;

    /// <summary>Orientation bins over [0, π).</summary>
    public const int OrientationBins = 9;

    /// <summary>Every how many frames the gradient histograms are taken.</summary>
    public const int OrientationStep = 4;

    private const int PyramidCells = 1 + 4 + 16;
    private const int OrientationCells = 1 + 4;
    private const int Grid = 4;

    /// <summary>Creates it for frames of <paramref name="inputSize"/> (default 128×72).</summary>
    public MotionAppearanceDescriptor(FrameSize? inputSize = null)
    {
        InputSize = inputSize ?? DefaultInputSize;
        if (InputSize.Width < 16 || InputSize.Height < RowBands) { throw new ArgumentException($"Frames of {InputSize} are too small for the descriptor."); }
    }

    /// <summary>Frame size the default extractor decodes to.</summary>
    public static FrameSize DefaultInputSize { get; } = new(128, 72);

    /// <summary>The extractor's name in model cards and dataset descriptions.</summary>
    public const string ExtractorName = "motion-appearance-v1";

    /// <inheritdoc/>
    public string Name => ExtractorName;

    /// <inheritdoc/>
    public int Dimension => FeatureLength;

    /// <summary>Length of the vector.</summary>
    public const int FeatureLength = (Segments * PyramidCells) + (2 * RowBands) + (Segments * 5) + (OrientationCells * OrientationBins) + OrientationBins + (Grid * Grid);

    /// <inheritdoc/>
    public FrameSize InputSize { get; }

    /// <inheritdoc/>
    public ValueTask<float[]> ExtractAsync(VideoClip clip, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clip);
        return ValueTask.FromResult(Extract(clip.Frames));
    }

    /// <summary>The descriptor of <paramref name="frames"/> (at least two, each <see cref="InputSize"/>).</summary>
    public float[] Extract(IReadOnlyList<byte[]> frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.Count < 2) { throw new ArgumentException("A clip needs at least two frames for motion features."); }
        int w = InputSize.Width, h = InputSize.Height, n = w * h;
        foreach (var f in frames)
        {
            if (f.Length != n) { throw new ArgumentException($"Frame of {f.Length} bytes, expected {n} ({InputSize} grey)."); }
        }

        var output = new float[FeatureLength];
        var o = 0;
        var diff = new float[n];
        var segmentPyramid = new double[Segments, PyramidCells];
        var segmentFrames = new int[Segments];
        var rows = new double[2, RowBands];
        var halfFrames = new int[2];
        var moments = new double[Segments, 6];   // Σe, Σex, Σey, Σex², Σey², Σexy
        for (var t = 1; t < frames.Count; t++)
        {
            var seg = Math.Min(Segments - 1, (t - 1) * Segments / (frames.Count - 1));
            var half = Math.Min(1, (t - 1) * 2 / (frames.Count - 1));
            segmentFrames[seg]++;
            halfFrames[half]++;
            byte[] a = frames[t], b = frames[t - 1];
            for (var i = 0; i < n; i++) { diff[i] = Math.Abs(a[i] - b[i]); }
            AddPyramid(diff, w, h, segmentPyramid, seg);
            for (var y = 0; y < h; y++)
            {
                double sum = 0, sx = 0, sxx = 0, sxy = 0;
                var row = y * w;
                for (var x = 0; x < w; x++)
                {
                    double e = diff[row + x];
                    sum += e; sx += e * x; sxx += e * x * x;
                }
                sxy = sx * y;
                rows[half, y * RowBands / h] += sum / (w * (double)h / RowBands);
                moments[seg, 0] += sum; moments[seg, 1] += sx; moments[seg, 2] += sum * y;
                moments[seg, 3] += sxx; moments[seg, 4] += sum * y * y; moments[seg, 5] += sxy;
            }
        }
        for (var s = 0; s < Segments; s++)
        {
            for (var c = 0; c < PyramidCells; c++) { output[o++] = Log(segmentPyramid[s, c] / Math.Max(1, segmentFrames[s])); }
        }
        for (var half = 0; half < 2; half++)
        {
            for (var r = 0; r < RowBands; r++) { output[o++] = Log(rows[half, r] / Math.Max(1, halfFrames[half])); }
        }
        for (var s = 0; s < Segments; s++)
        {
            var e = moments[s, 0];
            if (e < 1e-6) { o += 5; continue; }
            double cx = moments[s, 1] / e, cy = moments[s, 2] / e;
            var vx = Math.Max(0, (moments[s, 3] / e) - (cx * cx));
            var vy = Math.Max(0, (moments[s, 4] / e) - (cy * cy));
            var cxy = (moments[s, 5] / e) - (cx * cy);
            output[o++] = (float)(cx / w);
            output[o++] = (float)(cy / h);
            output[o++] = (float)(Math.Sqrt(vx) / w);
            output[o++] = (float)(Math.Sqrt(vy) / h);
            output[o++] = (float)(cxy / (w * (double)h));
        }

        // Gradient orientation histograms on every OrientationStep-th frame.
        var hist = new double[OrientationCells * OrientationBins];
        var global = new List<double[]>();
        for (var t = 0; t < frames.Count; t += OrientationStep)
        {
            var frameHist = new double[OrientationCells * OrientationBins];
            AddOrientations(frames[t], w, h, frameHist);
            for (var i = 0; i < hist.Length; i++) { hist[i] += frameHist[i]; }
            global.Add(frameHist[..OrientationBins]);
        }
        for (var i = 0; i < hist.Length; i++) { output[o++] = Log(hist[i] / global.Count); }
        for (var bin = 0; bin < OrientationBins; bin++)
        {
            double mean = 0, sq = 0;
            foreach (var g in global) { mean += g[bin]; }
            mean /= global.Count;
            foreach (var g in global) { sq += (g[bin] - mean) * (g[bin] - mean); }
            output[o++] = Log(Math.Sqrt(sq / global.Count));
        }

        // Appearance: mean intensity on a grid, averaged over the clip.
        var grid = new double[Grid * Grid];
        foreach (var f in frames)
        {
            for (var y = 0; y < h; y++)
            {
                var gy = y * Grid / h;
                for (var x = 0; x < w; x++) { grid[(gy * Grid) + (x * Grid / w)] += f[(y * w) + x]; }
            }
        }
        var perCell = frames.Count * (double)n / (Grid * Grid);
        for (var i = 0; i < grid.Length; i++) { output[o++] = (float)(grid[i] / perCell / 255.0); }
        return o == FeatureLength ? output : throw new InvalidOperationException("descriptor length mismatch");
    }

    private static float Log(double energy) => (float)Math.Log(1 + energy);

    // Mean of values over the cells of a 1×1, 2×2, 4×4 pyramid, added into target[seg, *].
    private static void AddPyramid(float[] values, int w, int h, double[,] target, int seg)
    {
        var fine = new double[16];
        for (var y = 0; y < h; y++)
        {
            var gy = y * 4 / h;
            var row = y * w;
            for (var x = 0; x < w; x++) { fine[(gy * 4) + (x * 4 / w)] += values[row + x]; }
        }
        var cellPixels = w * (double)h / 16;
        double total = 0;
        for (var c = 0; c < 16; c++)
        {
            total += fine[c];
            target[seg, 5 + c] += fine[c] / cellPixels;
            var coarse = ((c / 4) / 2 * 2) + ((c % 4) / 2);
            target[seg, 1 + coarse] += fine[c] / (4 * cellPixels);
        }
        target[seg, 0] += total / (16 * cellPixels);
    }

    // Unsigned gradient orientation histogram weighted by magnitude (central differences), whole frame + 2×2 cells,
    // each normalised by the cell's pixel count.
    private static void AddOrientations(byte[] f, int w, int h, double[] hist)
    {
        var cellPixels = (w - 2) * (double)(h - 2) / 4;
        for (var y = 1; y < h - 1; y++)
        {
            var cy = y * 2 / h;
            for (var x = 1; x < w - 1; x++)
            {
                var i = (y * w) + x;
                double gx = f[i + 1] - f[i - 1], gy = f[i + w] - f[i - w];
                var mag = Math.Sqrt((gx * gx) + (gy * gy));
                if (mag < 1) { continue; }
                var angle = Math.Atan2(gy, gx);
                if (angle < 0) { angle += Math.PI; }
                var bin = Math.Min(OrientationBins - 1, (int)(angle / Math.PI * OrientationBins));
                hist[bin] += mag / (4 * cellPixels);
                hist[((1 + (cy * 2) + (x * 2 / w)) * OrientationBins) + bin] += mag / cellPixels;
            }
        }
    }
}
