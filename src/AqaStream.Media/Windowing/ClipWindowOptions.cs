namespace AqaStream.Media.Windowing;

/// <summary>How frames are cut into clips.</summary>
public sealed record ClipWindowOptions
{
    /// <summary>Frames per clip (32 at 25 fps = 1.28 s, the scorer's clip length).</summary>
    public int ClipFrames { get; init; } = 32;

    /// <summary>Frames from one clip's start to the next (= <see cref="ClipFrames"/>: non-overlapping).</summary>
    public int Stride { get; init; } = 32;

    /// <summary>The streams' frame rate.</summary>
    public int FramesPerSecond { get; init; } = 25;

    /// <summary>Checks the values; throws with the bad one named.</summary>
    public ClipWindowOptions Validated()
    {
        if (ClipFrames < 1) { throw new ArgumentException($"Clip length must be at least one frame (got {ClipFrames})."); }
        if (Stride < 1) { throw new ArgumentException($"Clip stride must be at least one frame (got {Stride})."); }
        if (FramesPerSecond < 1) { throw new ArgumentException($"Frame rate must be positive (got {FramesPerSecond})."); }
        return this;
    }

    /// <summary>Clips that fit entirely in the first <paramref name="frames"/> frames.</summary>
    public int ClipsIn(long frames) => frames < ClipFrames ? 0 : (int)((frames - ClipFrames) / Stride) + 1;

    /// <summary>Seconds from the performance start to frame <paramref name="frame"/>.</summary>
    public double SecondsAt(long frame) => (double)frame / FramesPerSecond;
}
