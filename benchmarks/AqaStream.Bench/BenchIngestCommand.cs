using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reactive.Concurrency;
using AqaStream.Cli;
using AqaStream.Cli.Commands;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Ingest;
using AqaStream.Media.Synthetic;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;

namespace AqaStream.Bench;

/// <summary>
/// <c>./bench ingest</c>: how many live video streams one process decodes, windows and featurises in real time.
/// N streams each publish a 2 s chunk of 720p25 H.264 every 2 s (staggered phases) on the in-memory bus; the ingest
/// service decodes them through its ffmpeg pool, windows clips and extracts features onto the features topic.
/// Latency runs from publishing a chunk to publishing the features of the last clip that chunk completes.
/// The peer, measured in the same run: bare ffmpeg decoding the same chunks in one continuous process on one thread.
/// </summary>
internal static class BenchIngestCommand
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "Picture size of the streams.", DefaultValueFactory = _ => "1280x720" };
        var seconds = new Option<double>("--seconds") { Description = "Live window per step.", DefaultValueFactory = _ => 20 };
        var start = new Option<int>("--start") { Description = "Streams in the first step.", DefaultValueFactory = _ => 1 };
        var max = new Option<int>("--max-streams") { Description = "Stop here.", DefaultValueFactory = _ => 16 };
        var target = new Option<double>("--p99-target-ms") { Description = "A step passes when p99 chunk-to-features latency is at most this.", DefaultValueFactory = _ => 500 };
        var cmd = new Command("ingest", "Live video streams decoded, windowed and featurised in real time by one process (chunk arrival to clip features, p50/p99).")
        {
            size, seconds, start, max, target,
        };
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            Ffmpeg.EnsureAvailable();
            var frameSize = FrameSize.Parse(r.GetValue(size)!);
            var window = r.GetValue(seconds);
            if (window < 4) { throw new ArgumentException("--seconds must be at least 4 (two chunks)."); }
            var inv = CultureInfo.InvariantCulture;
            Console.Error.WriteLine(string.Create(inv, $"encoding a synthetic {frameSize} performance for the streams ..."));
            var program = SyntheticProgram.Generate(7);
            var chunks = new SyntheticEncoder(new VenueEncoderOptions { Size = frameSize }).EncodeAsync(program).ToBlockingEnumerable().ToList();
            var bytesPerChunk = chunks.Average(c => c.Bytes.Length);
            var peerFps = BareFfmpegFps(chunks);
            Console.WriteLine(string.Create(inv,
                $"bench ingest: {frameSize} H.264 25 fps, 2 s MPEG-TS chunks (~{bytesPerChunk / 1024:F0} KiB), {window} s per step, {Environment.ProcessorCount} cores, target p99 <= {r.GetValue(target)} ms"));
            Console.WriteLine(string.Create(inv, $"peer: bare ffmpeg, one continuous process, 1 thread: {peerFps:F0} frames/s decoded+scaled = {peerFps / 25:F1} streams' worth per core"));
            Console.WriteLine($"{"streams",8}{"chunks",8}{"frames/s",10}{"p50 ms",9}{"p99 ms",9}{"max ms",9}  result");
            var sustained = 0;
            for (var n = Math.Max(1, r.GetValue(start)); n <= r.GetValue(max); n = n < 4 ? n + 1 : n + 2)
            {
                var step = RunStep(chunks, n, window).GetAwaiter().GetResult();
                var pass = step.Complete && step.P99 <= r.GetValue(target);
                Console.WriteLine(string.Create(inv,
                    $"{n,8}{step.Chunks,8}{step.FramesPerSecond,10:F0}{step.P50,9:F0}{step.P99,9:F0}{step.Max,9:F0}  {(pass ? "ok" : step.Complete ? "p99 over target" : "fell behind")}"));
                if (!pass) { break; }
                sustained = n;
            }
            Console.WriteLine(string.Create(inv, $"sustained: {sustained} live {frameSize} streams ({sustained * 25} frames/s; ours / bare ffmpeg one-core decode rate = {sustained * 25 / peerFps:F2})"));
            return 0;
        }));
        return cmd;
    }

    private sealed record StepResult(int Chunks, double FramesPerSecond, double P50, double P99, double Max, bool Complete);

    private static async Task<StepResult> RunStep(IReadOnlyList<EncodedVideoChunk> chunks, int streams, double seconds)
    {
        var extractor = new MotionAppearanceDescriptor();
        var window = new ClipWindowOptions();
        await using var bus = new InMemoryBus(capacity: 4096);
        using var decoder = new FfmpegChunkDecoder(extractor.InputSize, new ChunkDecoderOptions { PoolSize = Math.Max(2, (streams / 2) + 1) });
        var clock = Stopwatch.StartNew();
        var chunkPublished = new ConcurrentDictionary<(string Id, int Clip), double>();
        var latencies = new ConcurrentBag<double>();
        var service = new VideoIngestService(bus, decoder, extractor, window, Scheduler.Default)
        {
            OnPublished = m =>
            {
                if (m is ClipFeatures f && chunkPublished.TryRemove((f.PerformanceId, f.ClipIndex), out var at))
                {
                    latencies.Add(clock.Elapsed.TotalMilliseconds - at);
                }
            },
        };
        using var features = bus.Subscribe(Topics.ClipFeatures, "bench");   // a reader, so the topic keeps flowing
        var drain = Task.Run(async () => { await foreach (var _ in features.ConsumeAsync()) { } });
        var run = service.RunAsync();
        await Task.Delay(1000);   // let the decoder pool start
        clock.Restart();
        var producer = bus.Producer(Topics.VideoChunks);
        var perStream = (int)(seconds / 2);
        var origin = DateTimeOffset.UtcNow;
        var published = 0;
        var streamsDone = Enumerable.Range(0, streams).Select(async s =>
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"stream-{s}");
            var phase = 2.0 * s / streams;
            var startedAt = origin.AddSeconds(phase);
            await producer.ProduceAsync(id, new PerformanceStarted(id, id, "synthetic", "bench", ScoreTarget.TES, startedAt));
            for (var k = 0; k < perStream; k++)
            {
                // A live encoder hands a chunk over when its last frame has been captured.
                var due = (phase + (2.0 * (k + 1))) * 1000;
                var wait = due - clock.Elapsed.TotalMilliseconds;
                if (wait > 0) { await Task.Delay(TimeSpan.FromMilliseconds(wait)); }
                var c = chunks[k % chunks.Count];
                var lastClip = window.ClipsIn((k + 1) * 50L) - 1;
                if (lastClip >= 0 && (lastClip + 1) * 32L > k * 50L) { chunkPublished[(id, lastClip)] = clock.Elapsed.TotalMilliseconds; }
                await producer.ProduceAsync(id, new VideoChunk("cam", id, k, startedAt.AddSeconds(2.0 * k), 2.0, "mpegts", "h264", c.Bytes));
                Interlocked.Increment(ref published);
            }
            await producer.ProduceAsync(id, new PerformanceEnded(id, startedAt.AddSeconds(2.0 * perStream)));
        }).ToArray();
        await Task.WhenAll(streamsDone);
        var lastPublished = clock.Elapsed.TotalSeconds;
        bus.Complete(Topics.VideoChunks);
        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30))) == run;
        var drainTime = clock.Elapsed.TotalSeconds - lastPublished;
        bus.Complete(Topics.ClipFeatures);
        await drain;
        var sorted = latencies.Order().ToArray();
        double Pct(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        var complete = finished && drainTime < 2 && chunkPublished.IsEmpty && service.Counters.Rejected == 0;
        return new StepResult(published, service.Counters.Frames / lastPublished, Pct(0.5), Pct(0.99), sorted.Length == 0 ? double.NaN : sorted[^1], complete);
    }

    private static double BareFfmpegFps(IReadOnlyList<EncodedVideoChunk> chunks)
    {
        byte[] whole = [.. chunks.SelectMany(c => c.Bytes)];
        var frames = chunks.Sum(c => c.FrameCount);
        var psi = new ProcessStartInfo(Ffmpeg.Executable) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-hide_banner", "-loglevel", "error", "-threads", "1", "-f", "mpegts", "-i", "pipe:0", "-vf", "scale=128:72:flags=area", "-pix_fmt", "gray", "-f", "null", "-"])
        {
            psi.ArgumentList.Add(a);
        }
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        p.StandardInput.BaseStream.Write(whole);
        p.StandardInput.Close();
        output.GetAwaiter().GetResult();
        p.WaitForExit();
        _ = err.GetAwaiter().GetResult();
        return frames / sw.Elapsed.TotalSeconds;
    }
}
