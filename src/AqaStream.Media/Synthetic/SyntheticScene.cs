using AqaStream.Media.Decoding;

namespace AqaStream.Media.Synthetic;

/// <summary>
/// Renders a <see cref="SyntheticProgram"/> as YUV 4:2:0 frames: a rink (static stands, boards, ice) and a skater drawn
/// from capsules (legs, torso, arms) and a head. Difficulty shows as rotation (the arms' apparent span swings as the
/// body turns; jumps lift the skater higher the more turns they carry); execution shows as posture: the body leans
/// and wobbles in proportion to 1 − execution, landings stumble, and a fall lays the skater on the ice.
/// </summary>
public sealed class SyntheticScene
{
    private readonly SyntheticProgram _program;
    private readonly FrameSize _size;
    private readonly byte[] _backgroundY;
    private readonly byte[] _backgroundUv;
    private readonly double _phase;

    /// <summary>Prepares the scene at <paramref name="size"/> (even sides).</summary>
    public SyntheticScene(SyntheticProgram program, FrameSize size)
    {
        ArgumentNullException.ThrowIfNull(program);
        _program = program;
        _size = size;
        _phase = (program.Seed % 628) / 100.0;
        (_backgroundY, _backgroundUv) = Background(size);
    }

    /// <summary>Bytes of one YUV 4:2:0 frame.</summary>
    public int FrameBytes => _size.Bytes * 3 / 2;

    /// <summary>Renders the frame at <paramref name="seconds"/> into <paramref name="yuv"/> (planar Y, U, V).</summary>
    public void Render(double seconds, Span<byte> yuv)
    {
        if (yuv.Length < FrameBytes) { throw new ArgumentException("Frame buffer too small."); }
        _backgroundY.CopyTo(yuv);
        _backgroundUv.CopyTo(yuv[_size.Bytes..]);
        var pose = PoseAt(seconds);
        var s = _size.Height * 0.28;   // skater height in pixels
        var (sinPhi, cosPhi) = Math.SinCos(pose.Lean);
        (double X, double Y) P(double fx, double fy) =>
            (pose.X + (fx * cosPhi) - (fy * sinPhi), pose.Y + (fx * sinPhi) + (fy * cosPhi));

        var (armSin, armCos) = Math.SinCos(pose.Rotation);
        var front = armSin >= 0;
        // Back arm first, then body, then front arm, so the front arm covers the body.
        var costume = (Y: (byte)55, U: (byte)_program.CostumeU, V: (byte)_program.CostumeV);
        var backArm = (Y: (byte)95, U: (byte)_program.CostumeU, V: (byte)_program.CostumeV);
        var skin = (Y: (byte)170, U: (byte)110, V: (byte)150);
        var span = 0.36 * s * armCos;
        var armRise = 0.08 * s * armSin;
        Capsule(yuv, P(0, -0.78 * s), P(front ? -span : span, (-0.74 * s) - armRise), 0.028 * s, backArm);
        Capsule(yuv, P(-0.07 * s, 0), P(0, -0.45 * s), 0.035 * s, costume);
        Capsule(yuv, P(0.07 * s * Math.Cos(pose.Rotation * 0.5), 0), P(0, -0.45 * s), 0.035 * s, costume);
        Capsule(yuv, P(0, -0.45 * s), P(0, -0.82 * s), 0.07 * s, costume);
        Capsule(yuv, P(0, -0.95 * s), P(0, -0.95 * s), 0.08 * s, skin);
        Capsule(yuv, P(0, -0.78 * s), P(front ? span : -span, (-0.74 * s) + armRise), 0.03 * s, costume);
    }

    private readonly record struct Pose(double X, double Y, double Rotation, double Lean);

    private Pose PoseAt(double t)
    {
        double w = _size.Width, h = _size.Height;
        var x = w * (0.5 + (0.3 * Math.Sin((2 * Math.PI * t / 14) + _phase)));
        var ground = h * 0.86;
        var e = _program.ElementAt(t);
        var local = t - e.Start;
        var quality = 1 - e.Execution;
        var rotation = 0.35 * Math.Sin(0.8 * t);
        var lift = 0.0;
        // Posture: lean and wobble grow as execution drops (≈ 25° of wobble at execution 0).
        var lean = quality * ((0.12 * Math.Sin(_phase + t)) + (0.45 * Math.Sin(2 * Math.PI * 2.5 * t)));
        switch (e.Kind)
        {
            case ElementKind.Jump:
                {
                    var air = e.AirTime;
                    if (local >= SyntheticElement.TakeOff && local < SyntheticElement.TakeOff + air)
                    {
                        var u = (local - SyntheticElement.TakeOff) / air;
                        lift = h * (0.05 + (0.035 * e.Rotations)) * 4 * u * (1 - u);
                        rotation = 2 * Math.PI * e.Rotations * u;
                    }
                    else if (local >= SyntheticElement.TakeOff + air)
                    {
                        var since = local - SyntheticElement.TakeOff - air;
                        if (e.Fall)
                        {
                            lean = 1.45 * Math.Min(1, since / 0.15);   // on the ice
                        }
                        else
                        {
                            lean += quality * 1.1 * Math.Exp(-since / 0.3) * Math.Sin(2 * Math.PI * 3 * since);   // stumble
                        }
                    }
                    break;
                }
            case ElementKind.Spin:
                rotation = 2 * Math.PI * e.RevolutionsPerSecond * local;
                x = w * (0.5 + (0.3 * Math.Sin((2 * Math.PI * e.Start / 14) + _phase)));   // spins stay in place
                break;
            case ElementKind.Steps:
                rotation = 1.2 * Math.Sin(2 * Math.PI * e.RevolutionsPerSecond * local);
                lift = h * 0.015 * Math.Abs(Math.Sin(2 * Math.PI * e.RevolutionsPerSecond * local));
                break;
            default:
                break;
        }
        return new Pose(x, ground - lift, rotation, lean);
    }

    // Fills the pixels within radius of segment a–b (Y at full resolution, U/V at the 2×2 subsampled positions).
    private void Capsule(Span<byte> yuv, (double X, double Y) a, (double X, double Y) b, double radius, (byte Y, byte U, byte V) colour)
    {
        int w = _size.Width, h = _size.Height;
        var x0 = Math.Max(0, (int)Math.Floor(Math.Min(a.X, b.X) - radius));
        var x1 = Math.Min(w - 1, (int)Math.Ceiling(Math.Max(a.X, b.X) + radius));
        var y0 = Math.Max(0, (int)Math.Floor(Math.Min(a.Y, b.Y) - radius));
        var y1 = Math.Min(h - 1, (int)Math.Ceiling(Math.Max(a.Y, b.Y) + radius));
        double dx = b.X - a.X, dy = b.Y - a.Y;
        var len2 = (dx * dx) + (dy * dy);
        var r2 = radius * radius;
        var uPlane = w * h;
        var vPlane = uPlane + (w * h / 4);
        for (var y = y0; y <= y1; y++)
        {
            for (var x = x0; x <= x1; x++)
            {
                double px = x - a.X, py = y - a.Y;
                var u = len2 > 0 ? Math.Clamp(((px * dx) + (py * dy)) / len2, 0, 1) : 0;
                double qx = px - (u * dx), qy = py - (u * dy);
                if ((qx * qx) + (qy * qy) > r2) { continue; }
                yuv[(y * w) + x] = colour.Y;
                if ((x & 1) == 0 && (y & 1) == 0)
                {
                    var c = ((y / 2) * (w / 2)) + (x / 2);
                    yuv[uPlane + c] = colour.U;
                    yuv[vPlane + c] = colour.V;
                }
            }
        }
    }

    private static (byte[] Y, byte[] Uv) Background(FrameSize size)
    {
        int w = size.Width, h = size.Height;
        var y = new byte[w * h];
        var uv = new byte[w * h / 2];
        Array.Fill(uv, (byte)128);
        var stands = (int)(h * 0.22);
        var boards = (int)(h * 0.30);
        for (var row = 0; row < h; row++)
        {
            for (var col = 0; col < w; col++)
            {
                byte v;
                if (row < stands)
                {
                    // The crowd: a static pattern of blocks.
                    var block = ((col / Math.Max(1, w / 40)) * 7) + ((row / Math.Max(1, h / 24)) * 13);
                    v = (byte)(40 + (block * 37 % 50));
                }
                else if (row < boards)
                {
                    v = (byte)(row < stands + Math.Max(2, h / 90) ? 30 : 235);
                }
                else
                {
                    v = (byte)(200 + (25 * (row - boards) / (h - boards)));   // ice, brighter towards the camera
                }
                y[(row * w) + col] = v;
            }
        }
        // A blue line across the ice.
        var line = (int)(h * 0.55);
        for (var row = line; row < line + Math.Max(2, h / 100); row++)
        {
            for (var col = 0; col < w; col++) { y[(row * w) + col] = 120; }
            for (var col = 0; col < w / 2; col++)
            {
                uv[((row / 2) * (w / 2)) + col] = 180;
                uv[(w * h / 4) + ((row / 2) * (w / 2)) + col] = 100;
            }
        }
        return (y, uv);
    }
}
