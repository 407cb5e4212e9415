using System.Reactive.Linq;

namespace AqaStream.Media.Windowing;

/// <summary>
/// Cuts one performance's decoded chunks (in order) into clips of <see cref="ClipWindowOptions.ClipFrames"/> frames
/// every <see cref="ClipWindowOptions.Stride"/> frames, across chunk boundaries. Clip k always covers frames
/// [k·stride, k·stride + N): a missing chunk drops the clips that needed its frames (a gap the scorer reports as
/// missing clips), and the clips after it stay aligned to the performance's clock.
/// </summary>
public static class WindowClipsOperator
{
    /// <summary>Windows <paramref name="chunks"/> into clips.</summary>
    public static IObservable<VideoClip> WindowClips(this IObservable<DecodedChunk> chunks, ClipWindowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validated();
        return Observable.Create<VideoClip>(observer =>
        {
            var window = new ClipWindower(options);
            return chunks.Subscribe(
                chunk =>
                {
                    foreach (var clip in window.Add(chunk)) { observer.OnNext(clip); }
                },
                observer.OnError,
                observer.OnCompleted);
        });
    }
}

/// <summary>The state of one performance's windowing (the contiguous run of frames not yet fully used); the
/// <see cref="WindowClipsOperator.WindowClips"/> operator wraps it.</summary>
public sealed class ClipWindower(ClipWindowOptions options)
{
    private readonly List<byte[]> _frames = [];
    private long _firstFrame;   // frame index of _frames[0]
    private long _nextClip;

    private long NextEnd => (_nextClip * options.Stride) + options.ClipFrames;   // exclusive

    /// <summary>Adds a chunk's frames; returns the clips they complete.</summary>
    public IReadOnlyList<VideoClip> Add(DecodedChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var clips = new List<VideoClip>();
        for (var i = 0; i < chunk.Frames.Count; i++)
        {
            var frame = chunk.FirstFrame + i;
            var expected = _firstFrame + _frames.Count;
            if (_frames.Count > 0 && frame < expected) { continue; }   // already have it (overlapping chunk)
            if (_frames.Count == 0 || frame != expected)
            {
                _frames.Clear();   // a gap: frames before it can never complete a clip that needs the gap
                _firstFrame = frame;
            }
            _frames.Add(chunk.Frames[i]);
            Emit(chunk, clips);
        }
        return clips;
    }

    private void Emit(DecodedChunk chunk, List<VideoClip> clips)
    {
        var last = _firstFrame + _frames.Count;   // exclusive
        while (NextEnd <= last)
        {
            var start = _nextClip * options.Stride;
            if (start >= _firstFrame)
            {
                var frames = _frames.GetRange((int)(start - _firstFrame), options.ClipFrames);
                clips.Add(new VideoClip(chunk.PerformanceId, checked((int)_nextClip), start, options.SecondsAt(start),
                    options.SecondsAt(start + options.ClipFrames), frames, chunk.ArrivedAt));
            }
            _nextClip++;
        }
        // Keep only frames a later clip can still use.
        var keepFrom = _nextClip * options.Stride;
        var drop = (int)Math.Clamp(keepFrom - _firstFrame, 0, _frames.Count);
        if (drop > 0)
        {
            _frames.RemoveRange(0, drop);
            _firstFrame += drop;
        }
    }
}
